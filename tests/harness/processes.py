"""The site's processes as the Procfile starts them, for the fault tests
(tests/faults/site.py) and the benchmarks (bench/).

A command line is the Procfile's own: its `${VAR:-default}`s filled in from
the variables given (never from this process's environment), then a few
options set for the caller (log files, a shorter graceful timeout, ...). Each
process runs from the repository root in a session of its own, so a signal to
its process group reaches it and its children and nothing else.

Standard library only: the benchmarks import this without pytest or Django.
"""

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
BIN = Path(PYTHON).parent

# Variables of the site's settings left out of a started site's environment,
# so that the shell that runs the tests or a benchmark cannot change the site.
SITE_VARIABLE_PREFIXES = ("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "THROTTLE_", "TRAINING_",
                          "BATCH_", "MODEL_STORE", "MODEL_CACHE", "OBJECT_STORAGE")  # fmt: skip

_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def procfile_commands() -> dict[str, str]:
    """The Procfile's lines: process name -> command line as written."""
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, colon, command = line.partition(":")
        if colon and not name.startswith("#"):
            commands[name.strip()] = command.strip()
    return commands


def procfile_command(
    name: str,
    variables: Mapping[str, str | int] | None = None,
    *,
    options: Mapping[str, str] | None = None,
    flags: Sequence[str] = (),
) -> list[str]:
    """The Procfile's command for process `name` (web, worker, worker-training,
    beat) as an argument list: each `${VAR:-default}` is `variables[VAR]` or
    its default; each of `options` gets its value (in place where the
    Procfile gives that option, else appended); `flags` are appended.
    gunicorn and celery run from this interpreter's environment."""
    variables = {key: str(value) for key, value in (variables or {}).items()}

    def fill(match: re.Match) -> str:
        value = variables.get(match[1], match[2])
        if value is None:
            raise KeyError(f"the Procfile's {name} needs {match[1]}")
        return value

    command = [_VARIABLE.sub(fill, token) for token in shlex.split(procfile_commands()[name])]
    for option, value in (options or {}).items():
        if option in command:
            command[command.index(option) + 1] = value
        else:
            command += [option, value]
    command += flags
    program, *arguments = command
    if program == "celery":
        return [PYTHON, "-m", "celery", *arguments]
    return [str(BIN / program), *arguments]


def site_env(
    *, var_dir: Path, static_root: Path, model_store: Path, secret_key: str, **variables: str
) -> dict[str, str]:
    """The environment of a production-like site on loopback (DEBUG off, no
    HTTPS redirect): this process's environment without the site's own
    variables, then these and `variables`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SITE_VARIABLE_PREFIXES)}
    env.update(
        DJANGO_SETTINGS_MODULE="mnistsite.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secret_key,
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_VAR_DIR=str(var_dir),
        DJANGO_STATIC_ROOT=str(static_root),
        MODEL_STORE_DIR=str(model_store),
        TF_CPP_MIN_LOG_LEVEL="2",  # TensorFlow's start-up chatter
        PYTHONUNBUFFERED="1",
    )
    env.update(variables)
    return env


def manage(env: Mapping[str, str], *command: str, timeout: float = 300) -> str:
    """`manage.py command` in a process of its own; its output. RuntimeError
    with the output when it fails."""
    done = subprocess.run(
        [PYTHON, "manage.py", *command], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(command)}:\n{done.stdout}{done.stderr}")
    return done.stdout.strip()


def start(command: list[str], *, env: Mapping[str, str], log: Path | None = None):
    """The process, started from the repository root in a session of its own;
    its output appended to `log`, or this process's own output without one."""
    if log is None:
        return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    with log.open("ab") as output:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def wait_for_mark(
    process: subprocess.Popen,
    log: Path,
    mark: bytes,
    *,
    count: int = 1,
    timeout: float,
    name: str,
    interval: float = 0.25,
) -> None:
    """Until `log` holds `mark` `count` times (a restarted process appends to
    its log): celery says `ready.`, beat `beat: Starting`. RuntimeError with
    the log's end when the process exits or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited:\n{log.read_text()[-3000:]}")
        if log.read_bytes().count(mark) >= count:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} not ready in {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(interval)


def stop(process: subprocess.Popen, *, timeout: float) -> None:
    """SIGTERM to the process's group (a clean shutdown), SIGKILL after
    `timeout` seconds."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(process)


def kill(process: subprocess.Popen) -> None:
    """SIGKILL to the process's group: no clean-up runs."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
