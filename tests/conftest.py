import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.signals import setting_changed
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token

from mnistsite.breakers import cache_breaker
from recognizer import predictor as predictor_module
from recognizer import submission_store
from recognizer.predictor import LoadedModel, ModelRef, load_model, reset_predictor
from training.bundle import bundled_model_install
from training.models import ModelVersion, TrainingJob
from training.tasks import train_job_task

ROOT = Path(__file__).resolve().parent.parent
# The USPS test split (report only, never trained on): USPS_TEST names the
# file, as for the benchmarks; beside the checkout in ../shared by default.
USPS_TEST = Path(os.environ.get("USPS_TEST") or ROOT.parent / "shared/datasets/usps/zip.test.gz")


def pytest_configure(config: pytest.Config) -> None:
    # Tests run with DEBUG off, like production, but without collectstatic:
    # serve templates' {% static %} names unhashed.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Storages already built (a FileField builds its storage when its model
    # is imported) are built again from the new value.
    setting_changed.send(sender=None, setting="STORAGES", value=settings.STORAGES, enter=True)


def pytest_terminal_summary(terminalreporter) -> None:
    """Reliability and security figures (tests/figures.py), into the CI log."""
    from tests import figures

    lines = figures.summary_lines()
    if lines:
        terminalreporter.section("reliability and security figures")
        for line in lines:
            terminalreporter.write_line(line)
        figures.save()


class HttpsClient(Client):
    """Tests run with production's settings, which redirect plain HTTP. Every
    API response is checked against the OpenAPI schema."""

    def generic(self, *args, **kwargs):
        kwargs["secure"] = True
        return super().generic(*args, **kwargs)

    def request(self, **request):
        response = super().request(**request)
        from tests.openapi import check_response_against_schema

        check_response_against_schema(response)
        return response


@pytest.fixture(scope="session")
def mnist_cache() -> Path:
    """The real, verified MNIST cache (fetched once per machine; CI reuses it)."""
    from training.ml.datasets import fetch_mnist

    return fetch_mnist(settings.MNIST_CACHE_DIR, log=lambda message: None)


@pytest.fixture(scope="session")
def pendigits_dir() -> Path:
    """A folder holding the real pen-drawn digits: PENDIGITS_DIR (`make test`
    points it at ../shared/datasets/pendigits when that exists). Without it
    these tests skip, except where MNISTSITE_EXPECT_DATA names pendigits (CI)."""
    folder = Path(settings.PENDIGITS_DIR or ROOT.parent / "shared" / "datasets" / "pendigits")
    if not any(folder.glob("pendigits-orig.tra*")):
        reason = f"no pen-drawn digits (pendigits-orig.tra*) in {folder}; set PENDIGITS_DIR"
        if "pendigits" in os.environ.get("MNISTSITE_EXPECT_DATA", "").split(","):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return folder


@pytest.fixture
def client() -> Client:
    return HttpsClient()


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for the database Django is connected to (the test one)."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = quote(settings_dict.get("USER") or "")
    password = quote(settings_dict.get("PASSWORD") or "")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "localhost"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{settings_dict['NAME']}"


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def train_on_worker(job: TrainingJob, queue: str, *, timeout: float = 240) -> TrainingJob:
    """Sends `job` to the real worker consuming `queue` (see
    `start_celery_worker`) and waits until it finishes; returns it refreshed."""
    train_job_task.apply_async(args=[job.pk], queue=queue, task_id=job.celery_task_id)

    def finished() -> bool:
        job.refresh_from_db()
        return job.status in TrainingJob.FINISHED

    assert wait_until(finished, timeout=timeout, interval=1), f"job {job.pk} is still {job.status}"
    return job


@pytest.fixture
def integrator(django_user_model) -> HttpsClient:
    """An API client with a token of its own (a user without permissions)."""
    user = django_user_model.objects.create_user(username="integrator", password="x" * 12)
    client = HttpsClient(headers={"Authorization": f"Token {Token.objects.create(user=user).key}"})
    client.user = user
    return client


@pytest.fixture
def start_celery_worker(transactional_db) -> Iterator[Callable[..., str]]:
    """Starts real `celery worker` processes on the configured broker, bound
    to the test database, each consuming a queue of its own (so it never takes
    messages meant for another worker sharing the broker). Returns the queue
    name; the workers are stopped when the test ends.
    """
    started: list[tuple[subprocess.Popen, Path]] = []

    def start(**extra_env: str) -> str:
        queue = f"test-{uuid.uuid4().hex[:12]}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url(connection.settings_dict),
            "DJANGO_SETTINGS_MODULE": "mnistsite.settings",
            **extra_env,
        }
        log = ROOT / "var" / f"{queue}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "mnistsite", "worker",
                 "--queues", queue, "--hostname", f"{queue}@%h", "--pool", "solo",
                 "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
                cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            )  # fmt: skip
        started.append((process, log))
        ready = wait_until(
            lambda: b"ready." in log.read_bytes() or process.poll() is not None, timeout=60
        )
        if not ready or process.poll() is not None:
            pytest.fail(f"celery worker did not start:\n{log.read_text()[-3000:]}")
        return queue

    yield start
    for process, log in started:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.returncode not in (0, -15):
            print(log.read_text()[-3000:])
        log.unlink(missing_ok=True)


# The bundled model's traced inference, loaded once per test session: every
# test installs it afresh (new rows), but the file and so the model are the same.
_loaded_by_sha: dict[str, LoadedModel] = {}


def cached_load(ref: ModelRef, **kwargs: object) -> LoadedModel:
    files = f"{ref.artifact_sha256}:{ref.compiled_sha256}"
    if files not in _loaded_by_sha:
        _loaded_by_sha[files] = load_model(ref, **kwargs)
    return LoadedModel(ref=ref, infer=_loaded_by_sha[files].infer)


@pytest.fixture(autouse=True)
def submission_files(settings, tmp_path) -> Path:
    """Each test stores submission images in a folder of its own, with a
    store no earlier test saw fail."""
    settings.MEDIA_ROOT = tmp_path / "media"
    submission_store.store_breaker.reset()
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def cache_closed() -> Iterator[None]:
    """Each test starts with a cache no earlier test saw fail."""
    cache_breaker.reset()
    yield
    cache_breaker.reset()


@pytest.fixture(autouse=True)
def fresh_predictor(monkeypatch) -> Iterator[None]:
    """Each test starts with a process that has loaded no model."""
    monkeypatch.setattr(predictor_module, "load_model", cached_load)
    reset_predictor()
    yield
    reset_predictor()


@pytest.fixture
def active_model(settings, tmp_path) -> ModelVersion:
    """The real bundled model (trained, 99.6 % on MNIST), active as version 1."""
    settings.MODEL_STORE_DIR = tmp_path / "models"
    return bundled_model_install()


@pytest.fixture(autouse=True)
def clear_throttle_counters() -> Iterator[None]:
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
