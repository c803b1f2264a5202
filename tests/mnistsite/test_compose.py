"""docker-compose.yml cannot be run here (no Docker engine), so it is kept
honest by comparing it with what is run: the Procfile's commands (which
`make run` and the smoke test start) and the variables in .env.example."""

import re
import shlex

import pytest
import yaml

from tests.conftest import ROOT

APP_SERVICES = ("web", "worker", "worker-training", "beat")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def _program_and_flags(command: str) -> list[str]:
    """The command's words with variable references blanked out: the part
    that must be equal wherever it runs."""
    command = re.sub(r"\$+\{[^}]+\}", "$VAR", command)
    return shlex.split(command)


def test_compose_has_the_services_of_the_design(compose):
    assert set(compose["services"]) == {"db", "redis", "minio", "minio-setup", *APP_SERVICES}


def test_app_services_run_the_procfile_commands(compose):
    procfile = _procfile()
    assert set(procfile) == set(APP_SERVICES)
    for name in APP_SERVICES:
        command = compose["services"][name]["command"]
        shell_line = command[-1] if command[:2] == ["sh", "-c"] else shlex.join(command)
        run_line = shell_line.split("&&")[-1].strip().removeprefix("exec ")
        assert _program_and_flags(run_line) == _program_and_flags(procfile[name]), name


def test_every_long_running_service_has_a_healthcheck(compose):
    for name in ("db", "redis", "web", "worker", "worker-training"):
        assert "test" in compose["services"][name]["healthcheck"], name


def test_state_lives_in_named_volumes(compose):
    assert {"postgres", "mnist", "minio"} <= set(compose["volumes"])
    assert compose["services"]["web"]["volumes"] == ["mnist:/data/mnist"]
    assert "postgres:/var/lib/postgresql/data" in compose["services"]["db"]["volumes"]
    assert "minio:/data" in compose["services"]["minio"]["volumes"]


def test_model_files_and_images_are_in_minio_not_on_a_volume_the_app_services_share(compose):
    """So that web and workers scale (`--scale web=2 --scale worker=3`)."""
    setup = compose["services"]["minio-setup"]
    for name in APP_SERVICES:
        service = compose["services"][name]
        env = service["environment"]
        assert env["MODEL_STORE_BUCKET"] == "${MODEL_STORE_BUCKET:-mnistsite-models}"
        assert env["SUBMISSION_STORE_BUCKET"] == (
            "${SUBMISSION_STORE_BUCKET:-mnistsite-submissions}"
        )
        assert env["OBJECT_STORAGE_ENDPOINT_URL"].endswith("http://minio:9000}")
        mounts = service.get("volumes", [])
        assert not any(mount.endswith((":/data/models", ":/data/media")) for mount in mounts)
        assert service["depends_on"]["minio-setup"] == {
            "condition": "service_completed_successfully"
        }
    # The buckets the one-shot makes are the ones the site uses, with the same keys.
    assert setup["environment"]["MODELS"] == env["MODEL_STORE_BUCKET"]
    assert setup["environment"]["SUBMISSIONS"] == env["SUBMISSION_STORE_BUCKET"]
    assert setup["environment"]["STORAGE_KEY"] == env["OBJECT_STORAGE_ACCESS_KEY_ID"]
    minio = compose["services"]["minio"]["environment"]
    assert minio["MINIO_ROOT_PASSWORD"] == env["OBJECT_STORAGE_SECRET_ACCESS_KEY"]
    made = 'mc mb --ignore-existing "store/$${MODELS}" "store/$${SUBMISSIONS}"'
    assert made in setup["entrypoint"][-1]


def test_app_services_get_the_variables_of_env_example(compose):
    documented = set(
        re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    for name in APP_SERVICES:
        assert set(compose["services"][name]["environment"]) == documented, name
