"""`make run` end to end on the embedded defaults, as a newcomer runs it: no
database server, no Redis. Run by `make smoke` (CI runs it after `make test`).

It checks that the web server answers /healthz with 200, that an admin
password is generated and printed once, that beat and a worker move a task
through the filesystem broker into SQLite, and that Ctrl-C stops everything.
"""

import json
import os
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, wait_until
from tests.harness.processes import free_port

pytestmark = pytest.mark.smoke

SHELL_CREATE_STALE_JOB = """
from datetime import timedelta
from django.utils import timezone
from training.models import TrainingJob
job = TrainingJob.objects.create(status="running", heartbeat_at=timezone.now() - timedelta(hours=1))
print(job.pk)
"""


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def _live_processes_in_group(pgid: int) -> list[int]:
    live = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            live.append(int(entry.name))
    return live


@pytest.fixture
def bare_env(tmp_path) -> dict[str, str]:
    """What a newcomer's shell has: no service URLs, no Django variables."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "MAKE", "MFLAGS"))
    }
    env.update(
        DJANGO_VAR_DIR=str(tmp_path / "var"),
        HOST="127.0.0.1",
        PORT=str(free_port()),
        # Beat reaps every second and a job is stale after 10 s, so the
        # periodic path is seen working within the test.
        TRAINING_REAP_INTERVAL_SECONDS="1",
        TRAINING_STALE_AFTER_SECONDS="10",
    )
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "manage.py", *args],
        cwd=ROOT,
        env={**env, "DJANGO_DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_make_run_serves_runs_tasks_and_stops_on_ctrl_c(bare_env, tmp_path):
    log_path = tmp_path / "make-run.log"
    base = f"http://127.0.0.1:{bare_env['PORT']}"
    with log_path.open("w") as log:
        make = subprocess.Popen(
            ["make", "run"], cwd=ROOT, env=bare_env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    pgid = make.pid
    try:
        assert wait_until(lambda: _status(f"{base}/healthz") == 200, timeout=180), (
            log_path.read_text()[-4000:]
        )
        assert _status(f"{base}/") == 200
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
            model = json.load(response)["checks"]["model"]
        assert model["active_version"] == 1, "the bundled model is registered and active"
        output = log_path.read_text()
        assert output.count("Created admin account 'admin' with password") == 1
        assert (tmp_path / "var" / "db.sqlite3").exists()

        job_id = _manage(bare_env, "shell", "-c", SHELL_CREATE_STALE_JOB).splitlines()[-1]
        probe = (
            "from training.models import TrainingJob; "
            f"print(TrainingJob.objects.get(pk={job_id}).status)"
        )

        def reaped() -> bool:
            return _manage(bare_env, "shell", "-c", probe).endswith("failed")

        assert wait_until(reaped, timeout=90, interval=1), log_path.read_text()[-4000:]
    finally:
        # Ctrl-C in a terminal: SIGINT to the whole foreground process group.
        os.killpg(pgid, signal.SIGINT)
        try:
            make.wait(timeout=30)
        finally:
            leftovers = _live_processes_in_group(pgid)
            if leftovers:
                os.killpg(pgid, signal.SIGKILL)
    assert leftovers == [], f"processes still running after Ctrl-C: {leftovers}"
    assert _status(f"{base}/healthz") is None

    # A second `make run` reinstalls nothing: the install step is up to date.
    up_to_date = subprocess.run(["make", "--question", "install"], cwd=ROOT, env=bare_env)
    assert up_to_date.returncode == 0
