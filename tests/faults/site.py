"""The whole site as production runs it, on the private PostgreSQL and Redis:
gunicorn, the inference worker, the training worker and beat, each a real
process in a session of its own (so SIGKILL reaches it and its children and
nothing else). Tests talk to it over HTTP and read its database in SQL.
"""

import contextlib
import http.client
import io
import json
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tests.conftest import wait_until
from tests.faults.services import PrivatePostgres, PrivateRedis
from tests.harness import processes as harness

# Reapers run every second and call a job stale after 10 s (a batch, which
# beats every second, after 5 s), so the periodic paths are seen working
# within a test.
FAST_REAPERS = {
    "TRAINING_REAP_INTERVAL_SECONDS": "1",
    "TRAINING_STALE_AFTER_SECONDS": "10",
    "BATCH_REAP_INTERVAL_SECONDS": "1",
    "BATCH_STALE_AFTER_SECONDS": "5",
    "BATCH_HEARTBEAT_SECONDS": "1",
}
# A training job small enough for a test, big enough to be killed mid-epoch.
TINY_JOB = {
    "preset": "quick",
    "epochs": 1,
    "max_train_samples": 3000,
    "augment": False,
    "pen_copies": 0,
}


@dataclass
class Answer:
    status: int
    body: dict | list | None
    seconds: float
    started: float  # time.monotonic() when the request was sent
    headers: dict[str, str] = field(default_factory=dict)


def _process_command(name: str, port: int, logs: Path) -> list[str]:
    """The Procfile's command for `name`, on `port`, with one worker process
    each, its logs under `logs`."""
    quick_start = ("--without-gossip", "--without-mingle")
    if name == "web":
        return harness.procfile_command(
            "web",
            {"PORT": port, "WEB_CONCURRENCY": 2, "WEB_THREADS": 2},
            options={
                "--graceful-timeout": "5",
                # Which worker process answered which request (the load tests' X-Request-Id).
                "--access-logfile": str(logs / "access.log"),
                "--access-logformat": "%(p)s %({x-request-id}i)s %(s)s",
            },
        )
    if name == "worker":
        return harness.procfile_command("worker", {"WORKER_CONCURRENCY": 1}, flags=quick_start)
    if name.startswith("worker-training"):
        # As the Procfile: one job per child process; a hostname per process.
        return harness.procfile_command(
            "worker-training", options={"--hostname": f"{name}@%h"}, flags=quick_start
        )
    if name == "beat":
        return harness.procfile_command("beat", options={"--schedule": str(logs / "beat-schedule")})
    raise ValueError(name)


class Site:
    """One host's processes. Several Sites on the same `database` and Redis
    `databases` (broker, cache) are several hosts of one site; `variables`
    are more settings (an object store, say)."""

    def __init__(
        self,
        workdir: Path,
        postgres: PrivatePostgres,
        redis: PrivateRedis,
        *,
        database: str = "site",
        redis_databases: tuple[int, int] = (0, 1),
        **variables: str,
    ) -> None:
        self.workdir = workdir
        self.postgres = postgres
        self.redis = redis
        self.port = harness.free_port()
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.database = database
        self.database_url = postgres.url(database)
        self.broker_url = redis.url(redis_databases[0])
        self.processes: dict[str, subprocess.Popen] = {}
        self.token = ""
        self._starts: dict[str, int] = {}
        self.env = harness.site_env(
            var_dir=workdir / "var",
            static_root=workdir / "static",
            model_store=self.model_store,
            secret_key="faults-only-" + "f" * 50,
            **FAST_REAPERS,
            DATABASE_URL=self.database_url,
            REDIS_URL=redis.url(redis_databases[1]),
            CELERY_BROKER_URL=self.broker_url,
            # The tests send more than a visitor would; throttling is tested elsewhere.
            THROTTLE_ANON_RATE="100000/min",
            THROTTLE_USER_RATE="100000/min",
            THROTTLE_PREVIEW_RATE="100000/min",
            **variables,
        )
        (workdir / "static").mkdir(exist_ok=True)

    @property
    def model_store(self) -> Path:
        return self.workdir / "models"

    # --- setting up -------------------------------------------------------

    def manage(self, *command: str) -> str:
        return harness.manage(self.env, *command)

    def install(self) -> None:
        self.postgres.create_database(self.database)
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")
        self.manage("ensure_bundled_model")
        code = (
            "from django.contrib.auth import get_user_model; "
            "from rest_framework.authtoken.models import Token; "
            "u = get_user_model().objects.create_superuser('ops', None, None); "
            "print(Token.objects.create(user=u).key)"
        )
        self.token = self.manage("shell", "-c", code).splitlines()[-1]

    # --- processes --------------------------------------------------------

    def _spawn(self, name: str) -> None:
        self.processes[name] = harness.start(
            _process_command(name, self.port, self.logs),
            env=self.env,
            log=self.logs / f"{name}.log",
        )

    def wait_ready(self, name: str, timeout: float = 180) -> None:
        process, log = self.processes[name], self.logs / f"{name}.log"
        if name != "web":
            # A restarted process appends to its log: count its marks.
            mark = b"beat: Starting" if name == "beat" else b"ready."
            harness.wait_for_mark(
                process, log, mark, count=self._starts[name], timeout=timeout, name=name
            )
            return

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                return self.get("/healthz", timeout=3).status in (200, 503)
            return False

        if not wait_until(ready, timeout=timeout, interval=0.25):
            raise RuntimeError(f"{name} not ready in {timeout} s:\n{log.read_text()[-3000:]}")

    def start_all(self, names: tuple[str, ...] = ("web", "worker", "worker-training", "beat")):
        for name in names:
            self.restart(name, wait=False)
        for name in names:
            self.wait_ready(name)

    def restart(self, name: str, *, wait: bool = True) -> None:
        self._starts[name] = self._starts.get(name, 0) + 1
        self._spawn(name)
        if wait:
            self.wait_ready(name)

    def kill(self, name: str) -> None:
        """SIGKILL to the process and its children: no clean-up runs."""
        harness.kill(self.processes.pop(name))

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            harness.stop(process, timeout=20)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def is_running(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    # --- HTTP -------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        json_body: object = None,
        headers: dict[str, str] | None = None,
        token: bool = False,
        timeout: float = 15,
    ) -> Answer:
        headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Token {self.token}"
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            answer_headers = {k.lower(): v for k, v in response.getheaders()}
        finally:
            connection.close()
        parsed = None
        if answer_headers.get("content-type", "").startswith("application/json"):
            parsed = json.loads(raw)
        return Answer(response.status, parsed, time.monotonic() - started, started, answer_headers)

    def get(self, path: str, **options) -> Answer:
        return self.request("GET", path, **options)

    def predict(self, body: dict, **options) -> Answer:
        return self.request("POST", "/api/v1/predictions/", json_body=body, **options)

    def create_job(self, **params) -> Answer:
        return self.request(
            "POST", "/api/v1/training-jobs/", json_body=params or TINY_JOB, token=True
        )

    def create_batch(self, images: np.ndarray) -> Answer:
        buffer = io.BytesIO()
        np.save(buffer, images.astype(np.uint8), allow_pickle=False)
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="digits.npy"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + buffer.getvalue()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return self.request(
            "POST", "/api/v1/batches/", body=body, token=True, timeout=120,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )  # fmt: skip

    # --- the database -----------------------------------------------------

    def sql(self, query: str, *params: object) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.database_url, connect_timeout=5) as connection:
            return connection.execute(query, params).fetchall()

    def value(self, query: str, *params: object):
        return self.sql(query, *params)[0][0]

    def job(self, job_id: int) -> dict:
        columns = ("status", "error", "log", "epoch", "epoch_fraction", "started_at",
                   "finished_at", "version")  # fmt: skip
        row = self.sql(
            "SELECT j.status, j.error, j.log, j.epoch, j.epoch_fraction, j.started_at, "
            "j.finished_at, v.version FROM training_trainingjob j "
            "LEFT JOIN training_modelversion v ON v.training_job_id = j.id WHERE j.id = %s",
            job_id,
        )[0]
        return dict(zip(columns, row, strict=True))

    def batch(self, batch_id: int) -> dict:
        columns = ("status", "error", "processed", "total", "attempts")
        row = self.sql(
            f"SELECT {', '.join(columns)} FROM recognizer_inferencebatch "  # noqa: S608
            "WHERE id = %s",
            batch_id,
        )[0]
        return dict(zip(columns, row, strict=True))


@dataclass
class Sent:
    request_id: str
    body_index: int
    answer: Answer | None  # None when the request failed without an answer
    error: str = ""

    @property
    def status(self) -> int | str:
        return self.answer.status if self.answer else self.error


class Traffic:
    """Clients sending predictions in threads until stopped, every answer kept
    (or the exception that stood for one), each request named by an
    X-Request-Id so the access log tells which web process answered it."""

    def __init__(self, site: Site, bodies: list[dict], *, clients: int, pause: float) -> None:
        self.site = site
        self.bodies = bodies
        self.pause = pause
        self._sent: list[Sent] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(clients)
        ]

    def __enter__(self) -> "Traffic":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _client(self, number: int) -> None:
        count = 0
        while not self._stop.is_set():
            request_id = f"{number}-{count}-{uuid.uuid4().hex[:8]}"
            body_index = (number + count) % len(self.bodies)
            count += 1
            try:
                answer = self.site.predict(
                    self.bodies[body_index], headers={"X-Request-Id": request_id}
                )
                sent = Sent(request_id, body_index, answer)
            except (OSError, http.client.HTTPException) as exc:
                sent = Sent(request_id, body_index, None, f"{type(exc).__name__}: {exc}")
            with self._lock:
                self._sent.append(sent)
            if self.pause:
                self._stop.wait(self.pause)

    def snapshot(self) -> list[Sent]:
        with self._lock:
            return list(self._sent)

    def count_started_after(self, moment: float) -> int:
        return sum(1 for s in self.snapshot() if s.answer and s.answer.started > moment)
