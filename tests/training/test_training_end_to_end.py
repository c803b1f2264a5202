"""Real training, small: a tiny job on a slice of MNIST, run by the real
training code (and once by a real Celery worker), producing a real model."""

import pytest

from tests.conftest import train_on_worker
from training.ml.artifacts import artifact_load, compiled_read
from training.models import ModelVersion, TrainingJob
from training.runner import run_job
from training.services import job_cancel, job_create

# MNIST only: these tests are about the job's life; test_job_data.py trains
# with the pen-drawn digits.
TINY = {
    "preset": "quick",
    "epochs": 2,
    "max_train_samples": 3000,
    "augment": False,
    "pen_copies": 0,
}

Status = TrainingJob.Status


@pytest.fixture
def model_store(settings, tmp_path):
    settings.MODEL_STORE_DIR = tmp_path / "models"
    return settings.MODEL_STORE_DIR


@pytest.mark.django_db
def test_a_tiny_job_registers_a_version_with_metrics_and_a_verified_artifact(
    mnist_cache, model_store
):
    job = job_create(enqueue=False, **TINY)

    outcome = run_job(job.pk)

    assert outcome.status == Status.SUCCEEDED
    job.refresh_from_db()
    version = job.model_version
    assert job.status == Status.SUCCEEDED and job.finished_at is not None
    assert [entry["epoch"] for entry in job.metrics] == [1, 2]
    assert set(job.metrics[0]) == {
        "epoch",
        "member",
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "seconds",
    }
    assert job.feedback_samples_used == 0
    log = job.log.splitlines()
    assert "started on" in log[0] and "fetching MNIST" in log[1]
    data = next(index for index, line in enumerate(log) if "training images" in line)
    assert "(0 pen-drawn, 0 from feedback)" in log[data]
    assert "epoch 1/2" in log[data + 1] and "epoch 2/2" in log[data + 2]
    assert f"registered v{version.version} (now active)" in log[-1]
    assert 0.8 < version.test_accuracy <= 1.0
    assert len(version.per_class_accuracy) == 10
    assert sum(map(sum, version.confusion_matrix)) == 10_000
    assert version.dataset_fingerprint["mnist"] == mnist_cache_checksums(mnist_cache)
    assert version.is_active  # auto policy: the first model becomes active
    model = artifact_load(model_store / version.artifact_path, version.artifact_sha256)
    assert model.count_params() == version.parameter_count
    assert compiled_read(model_store / version.compiled_path, version.compiled_sha256)
    # A second delivery of the same message trains nothing.
    assert run_job(job.pk) is None
    assert ModelVersion.objects.count() == 1


@pytest.mark.django_db
def test_an_ensemble_job_averages_its_members_into_one_model(mnist_cache, model_store):
    job = job_create(enqueue=False, **{**TINY, "epochs": 1, "members": 2})

    outcome = run_job(job.pk)

    job.refresh_from_db()
    version = outcome.version
    assert job.epochs == 2 and [m["member"] for m in job.metrics] == [1, 2]
    assert version.architecture == "cnn_small x2"
    model = artifact_load(model_store / version.artifact_path, version.artifact_sha256)
    assert model.count_params() == version.parameter_count == 2 * 225_034


def mnist_cache_checksums(cache):
    from training.ml.datasets import load_mnist

    return load_mnist(cache).checksums


@pytest.mark.django_db
def test_a_job_cancelled_while_running_ends_cancelled_with_no_version_or_file(
    mnist_cache, model_store, monkeypatch
):
    job = job_create(enqueue=False, **TINY)
    original = __import__("training.runner", fromlist=["x"]).JobReporter.on_batch
    calls = {"n": 0}

    def cancel_midway(self, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            job_cancel(job_id=job.pk)
        self.last_write = 0.0  # report every batch, so the cancel is seen at once
        return original(self, **kwargs)

    monkeypatch.setattr("training.runner.JobReporter.on_batch", cancel_midway)

    outcome = run_job(job.pk)

    job.refresh_from_db()
    assert outcome.status == Status.CANCELLED == job.status
    assert calls["n"] == 3  # stopped at the first batch report after the cancel
    assert ModelVersion.objects.count() == 0
    assert not model_store.exists() or list(model_store.iterdir()) == []


@pytest.mark.django_db
def test_a_failing_job_is_marked_failed_with_the_error(mnist_cache, model_store, monkeypatch):
    job = job_create(enqueue=False, **TINY)

    def broken_fit(*args, **kwargs):
        raise MemoryError("out of memory in the worker")

    monkeypatch.setattr("training.runner.fit", broken_fit)

    outcome = run_job(job.pk)

    job.refresh_from_db()
    assert outcome.status == Status.FAILED == job.status
    assert "out of memory" in job.error
    assert ModelVersion.objects.count() == 0


def test_a_real_worker_trains_a_job_and_a_version_appears(
    mnist_cache, model_store, start_celery_worker
):
    queue = start_celery_worker(MODEL_STORE_DIR=str(model_store), MNIST_CACHE_DIR=str(mnist_cache))
    job = job_create(enqueue=False, **TINY)

    train_on_worker(job, queue)
    assert job.status == Status.SUCCEEDED, job.error
    version = ModelVersion.objects.get(training_job=job)
    assert version.test_accuracy > 0.8
    assert (model_store / version.artifact_path).is_file()


@pytest.mark.django_db
def test_a_job_stopped_at_its_time_limit_is_failed_with_that_reason(
    mnist_cache, model_store, monkeypatch
):
    from celery.exceptions import SoftTimeLimitExceeded

    job = job_create(enqueue=False, **TINY)

    def too_slow(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr("training.runner.fit", too_slow)

    run_job(job.pk)

    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert "time limit" in job.error


@pytest.mark.django_db
@pytest.mark.parametrize("include_feedback", [True, False])
def test_labelled_samples_join_the_training_data_only_when_asked(
    mnist_cache, model_store, monkeypatch, include_feedback
):
    import numpy as np

    from training.ml.fit import TrainingCancelled
    from training.services import labelled_sample_create

    for label in (3, 7):
        labelled_sample_create(image=np.zeros((28, 28), np.uint8), label=label, source="feedback")
    seen = {}

    def record_and_stop(x_train, y_train, *args, **kwargs):
        seen["rows"], seen["tail"] = len(x_train), list(y_train[-2:])
        raise TrainingCancelled()

    monkeypatch.setattr("training.runner.fit", record_and_stop)
    job = job_create(enqueue=False, include_feedback=include_feedback, **TINY)

    run_job(job.pk)

    job.refresh_from_db()
    expected = 2 if include_feedback else 0
    assert job.feedback_samples_used == expected
    assert seen["rows"] == TINY["max_train_samples"] + expected
    if include_feedback:
        assert seen["tail"] == [3, 7] or seen["tail"] == [7, 3]


@pytest.mark.django_db
def test_a_model_that_does_not_compile_is_registered_without_a_compiled_file(
    mnist_cache, model_store, monkeypatch
):
    def refuse(*args, **kwargs):
        raise RuntimeError("converter says no")

    monkeypatch.setattr("training.runner.compiled_save", refuse)
    job = job_create(enqueue=False, **{**TINY, "epochs": 1, "max_train_samples": 1000})

    outcome = run_job(job.pk)

    assert outcome.status == Status.SUCCEEDED
    assert (outcome.version.compiled_path, outcome.version.compiled_sha256) == ("", "")
    assert [path.suffix for path in model_store.iterdir()] == [".keras"]
