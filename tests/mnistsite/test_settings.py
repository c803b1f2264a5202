"""The settings module under different environments, each loaded in a fresh
interpreter exactly as a process started with that environment would."""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.figures import record

PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "k3Jx9-production-like-secret-key-for-the-deploy-check-0123456789",
    "DJANGO_ALLOWED_HOSTS": "digits.example.org",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://digits.example.org",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "DJANGO_SECURE_HSTS_PRELOAD": "1",
}

PROBE = """
import json
from mnistsite import settings as s
print(json.dumps({
    "DEBUG": s.DEBUG,
    "ENGINE": s.DATABASES["default"]["ENGINE"],
    "DB_NAME": str(s.DATABASES["default"]["NAME"]),
    "DB_OPTIONS": s.DATABASES["default"].get("OPTIONS", {}),
    "CACHE": s.CACHES["default"]["BACKEND"],
    "CACHE_LOCATION": s.CACHES["default"]["LOCATION"],
    "BROKER": s.CELERY_BROKER_URL,
    "SSL_REDIRECT": s.SECURE_SSL_REDIRECT,
    "COOKIES_SECURE": s.SESSION_COOKIE_SECURE,
    "HSTS": s.SECURE_HSTS_SECONDS,
    "ALLOWED_HOSTS": s.ALLOWED_HOSTS,
    "THROTTLE": s.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
    "MODELS": s.STORAGES["models"]["BACKEND"],
    "MODELS_OPTIONS": {k: v for k, v in s.STORAGES["models"].get("OPTIONS", {}).items()
                       if k != "client_config"},
}))
"""


def _clean_env(tmp_path, **env: str) -> dict[str, str]:
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DJANGO_VAR_DIR": str(tmp_path)}
    return {**base, **env}


def load_settings(tmp_path, **env: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=_clean_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1])
    return json.loads(result.stdout)


def test_no_environment_means_embedded_sqlite_filesystem_broker_and_file_cache(tmp_path):
    loaded = load_settings(tmp_path, DJANGO_DEBUG="1")

    assert loaded["DEBUG"] is True
    assert loaded["ENGINE"] == "django.db.backends.sqlite3"
    assert loaded["DB_NAME"] == str(tmp_path / "db.sqlite3")
    assert loaded["BROKER"].startswith("filesystem://")
    assert loaded["CACHE"].endswith("FileBasedCache")
    assert (tmp_path / "broker" / "queue").is_dir()


def test_service_urls_move_database_cache_and_broker_to_postgres_and_redis(tmp_path):
    loaded = load_settings(
        tmp_path,
        DJANGO_DEBUG="1",
        DATABASE_URL="postgres://app:pw@db.internal:5433/digits",
        REDIS_URL="redis://cache.internal:6379/1",
        CELERY_BROKER_URL="redis://:broker-secret@cache.internal:6379/0",
    )

    assert loaded["ENGINE"] == "django.db.backends.postgresql"
    assert loaded["DB_NAME"] == "digits"
    assert loaded["DB_OPTIONS"]["connect_timeout"] == 5
    assert loaded["CACHE"] == "django.core.cache.backends.redis.RedisCache"
    assert loaded["CACHE_LOCATION"] == "redis://cache.internal:6379/1"
    assert loaded["BROKER"] == "redis://:broker-secret@cache.internal:6379/0"
    assert not (tmp_path / "broker").exists(), "nothing embedded is created on real services"


def test_model_files_are_in_the_model_folder_unless_a_bucket_is_named(tmp_path):
    assert load_settings(tmp_path, DJANGO_DEBUG="1")["MODELS"] == (
        "training.model_store.ModelStoreFolder"
    )
    loaded = load_settings(
        tmp_path, DJANGO_DEBUG="1", MODEL_STORE_BUCKET="models",
        OBJECT_STORAGE_ENDPOINT_URL="http://minio:9000", OBJECT_STORAGE_ACCESS_KEY_ID="key",
        OBJECT_STORAGE_SECRET_ACCESS_KEY="secret",
    )  # fmt: skip

    assert loaded["MODELS"] == "storages.backends.s3.S3Storage"
    options = loaded["MODELS_OPTIONS"]
    assert (options["bucket_name"], options["endpoint_url"]) == ("models", "http://minio:9000")
    assert (options["access_key"], options["secret_key"]) == ("key", "secret")
    assert options["file_overwrite"] is False


def test_broker_follows_redis_url_when_not_given_its_own(tmp_path):
    loaded = load_settings(tmp_path, DJANGO_DEBUG="1", REDIS_URL="redis://cache.internal:6379/1")

    assert loaded["BROKER"] == "redis://cache.internal:6379/1"


def test_debug_is_off_by_default_and_then_a_secret_key_is_required(tmp_path):
    with pytest.raises(RuntimeError, match="DJANGO_SECRET_KEY must be set"):
        load_settings(tmp_path)


def test_production_defaults_to_https_only_cookies_redirect_and_hsts(tmp_path):
    loaded = load_settings(tmp_path, DJANGO_SECRET_KEY="x" * 60)

    assert loaded["DEBUG"] is False
    assert loaded["SSL_REDIRECT"] is True
    assert loaded["COOKIES_SECURE"] is True
    assert loaded["HSTS"] == 31536000


def test_https_settings_can_be_turned_off_for_plain_http_deployments(tmp_path):
    loaded = load_settings(
        tmp_path,
        DJANGO_SECRET_KEY="x" * 60,
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_SECURE_COOKIES="false",
        DJANGO_SECURE_HSTS_SECONDS="0",
        DJANGO_ALLOWED_HOSTS="a.example, b.example",
    )

    assert (loaded["SSL_REDIRECT"], loaded["COOKIES_SECURE"], loaded["HSTS"]) == (False, False, 0)
    assert loaded["ALLOWED_HOSTS"] == ["a.example", "b.example"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DJANGO_DEBUG", "maybe", "DJANGO_DEBUG='maybe' is not a boolean"),
        ("DATABASE_CONN_MAX_AGE", "soon", "DATABASE_CONN_MAX_AGE='soon' is not an integer"),
        ("THROTTLE_ANON_RATE", "lots", "THROTTLE_ANON_RATE='lots' is not a rate"),
        ("DJANGO_LOG_LEVEL", "LOUD", "DJANGO_LOG_LEVEL='LOUD' must be one of"),
        ("DATABASE_URL", "mysqlx://nowhere", "DATABASE_URL is not a database URL"),
        ("BATCH_HEARTBEAT_SECONDS", "20", "BATCH_STALE_AFTER_SECONDS must be at least 4 x"),
    ],
)
def test_malformed_values_fail_loudly_naming_the_variable(tmp_path, name, value, message):
    env = {"DJANGO_DEBUG": "1", name: value}

    with pytest.raises(RuntimeError, match=re.escape(message)):
        load_settings(tmp_path, **env)


def _deploy_check(tmp_path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_clean_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_in_a_production_like_environment(tmp_path):
    result = _deploy_check(tmp_path, **PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    record(
        "security-6",
        title="manage.py check --deploy, production settings (DEBUG off, TLS)",
        command="make test ARGS='tests/mnistsite/test_settings.py -k deploy'",
        outcome="System check identified no issues (fail level WARNING, none silenced)",
    )


def test_check_deploy_complains_about_debug_mode(tmp_path):
    result = _deploy_check(tmp_path, **{**PRODUCTION_ENV, "DJANGO_DEBUG": "1"})

    assert result.returncode != 0
    assert "security.W018" in result.stderr + result.stdout


ENV_EXAMPLE = ROOT / ".env.example"
# The code that reads the environment: these modules through mnistsite/env.py's
# helpers, and the Procfile's commands through the shell's ${NAME:-default}.
SETTINGS_MODULE = ROOT / "mnistsite" / "settings.py"
SUPERUSER_COMMAND = ROOT / "mnistsite" / "management" / "commands" / "ensure_superuser.py"
# How .env.example shows a variable: commented out at its default, below its description.
SHOWN = re.compile(r"^# ([A-Z][A-Z0-9_]+)=(.*)$")

# Loads the settings module once as it is, then once with each variable set to
# the value .env.example shows, and names the settings that value changed.
DEFAULTS_PROBE = """
import json, os, runpy, sys

def loaded():
    namespace = runpy.run_path("mnistsite/settings.py")
    return {name: value for name, value in namespace.items() if name.isupper()}

baseline = loaded()
changed = {}
for name, value in json.loads(sys.argv[1]).items():
    os.environ[name] = value
    try:
        other = loaded()
    except Exception as exc:
        changed[name] = f"{type(exc).__name__}: {exc}"
    else:
        differ = [key for key in sorted(baseline.keys() | other.keys())
                  if baseline.get(key) != other.get(key)]
        if differ:
            changed[name] = differ
    finally:
        del os.environ[name]
print(json.dumps(changed))
"""


def _env_reads(module: Path) -> dict[str, ast.expr | None]:
    """NAME -> its default (an expression, None when there is none) for every
    environment read in a module: mnistsite/env.py's helpers (env_str,
    env_int, ...), os.getenv, os.environ.get and os.environ[...]."""
    reads: dict[str, ast.expr | None] = {}
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("environ"):
            name, default = node.slice, None
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            on_environ = isinstance(func, ast.Attribute) and ast.unparse(func.value).endswith(
                "environ"
            )
            if not (called.startswith("env_") or called == "getenv" or on_environ):
                continue
            if not node.args:
                continue
            name, default = node.args[0], (node.args[1] if len(node.args) > 1 else None)
        else:
            continue
        assert isinstance(name, ast.Constant) and isinstance(name.value, str), (
            f"{module.name}:{node.lineno} reads a variable whose name this test cannot see"
        )
        reads[name.value] = default
    return reads


def _procfile_reads() -> dict[str, str]:
    """NAME -> default for every ${NAME} or ${NAME:-default} in the Procfile."""
    procfile = (ROOT / "Procfile").read_text()
    return dict(re.findall(r"\$\{([A-Z][A-Z0-9_]+)(?::-([^}]*))?\}", procfile))


def _variables_read_by_the_code() -> set[str]:
    return {*_env_reads(SETTINGS_MODULE), *_env_reads(SUPERUSER_COMMAND), *_procfile_reads()}


def _shown_defaults() -> dict[str, str]:
    lines = ENV_EXAMPLE.read_text().splitlines()
    return {match[1]: match[2].strip() for line in lines if (match := SHOWN.match(line))}


def test_env_example_lists_every_variable_the_code_reads_once_and_describes_it():
    lines = ENV_EXAMPLE.read_text().splitlines()
    shown = [(at, match[1]) for at, line in enumerate(lines) if (match := SHOWN.match(line))]
    names = [name for _, name in shown]
    read = _variables_read_by_the_code()

    assert len(read) > 30
    assert sorted(read - set(names)) == [], "read by the code, missing from .env.example"
    assert sorted(set(names) - read) == [], "in .env.example, read by nothing"
    assert sorted({name for name in names if names.count(name) > 1}) == [], "shown twice"
    assert [
        name
        for at, name in shown
        if at == 0 or not lines[at - 1].startswith("# ") or SHOWN.match(lines[at - 1])
    ] == [], "without a description on the line above"
    assert [
        line for line in lines if re.match(r"^#? ?[A-Z][A-Z0-9_]+=", line) and not SHOWN.match(line)
    ] == [], "a variable not shown as `# NAME=default`"


def test_env_example_shows_the_defaults_the_code_uses(tmp_path):
    shown = _shown_defaults()
    wrong = {
        name: {"shown": shown.get(name), "default": default}
        for name, default in _procfile_reads().items()
        if shown.get(name) != default
    }
    for name, default in _env_reads(SUPERUSER_COMMAND).items():
        value = "" if default is None else str(ast.literal_eval(default))
        if shown.get(name) != value:
            wrong[name] = {"shown": shown.get(name), "default": value}
    assert wrong == {}

    # The settings' defaults are often computed (from DJANGO_DEBUG, DJANGO_VAR_DIR,
    # the home folder): what counts is that setting a variable to the value shown
    # changes no setting. An empty value is the same as unset (mnistsite/env.py).
    values = {name: shown[name] for name in _env_reads(SETTINGS_MODULE) if shown.get(name)}
    result = subprocess.run(
        [sys.executable, "-c", DEFAULTS_PROBE, json.dumps(values)],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DJANGO_SECRET_KEY": "x" * 60},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert len(values) > 30
    assert json.loads(result.stdout) == {}, "the value .env.example shows changes these settings"


def test_collectstatic_in_production_mode_hashes_and_compresses_every_asset(tmp_path):
    """What the Dockerfile runs at build time, and what WhiteNoise then serves."""
    static_root = tmp_path / "static"
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=_clean_env(tmp_path, **PRODUCTION_ENV, DJANGO_STATIC_ROOT=str(static_root)),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    assert {"css/site.css", "admin/css/base.css"} <= set(manifest)
    assert (static_root / (manifest["css/site.css"] + ".gz")).exists()
