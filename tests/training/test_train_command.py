from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from training.models import ModelVersion, TrainingJob

pytestmark = pytest.mark.django_db


def test_train_without_wait_queues_the_job_and_prints_its_id(
    monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(
        "training.tasks.train_job_task.apply_async",
        lambda args, task_id: sent.append(args),
    )
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("train", "--preset", "quick", stdout=out)

    job = TrainingJob.objects.get()
    assert f"Queued training job {job.pk}" in out.getvalue()
    assert sent == [[job.pk]]


def test_train_with_bad_parameters_fails_with_the_reason():
    with pytest.raises(CommandError, match="epochs"):
        call_command("train", "--epochs", "0")
    assert TrainingJob.objects.count() == 0


def test_train_wait_runs_in_the_foreground_and_prints_the_metrics(mnist_cache, settings, tmp_path):
    settings.MODEL_STORE_DIR = tmp_path
    out = StringIO()

    call_command(
        "train", "--preset", "quick", "--epochs", "1", "--max-train-samples", "2000",
        "--no-augment", "--wait", stdout=out,
    )  # fmt: skip

    text = out.getvalue()
    version = ModelVersion.objects.get()
    assert "Epoch 1/1" in text
    assert f"Model v{version.version}" in text
    assert "Per-class accuracy" in text and "Confusion matrix" in text
    assert TrainingJob.objects.get().status == TrainingJob.Status.SUCCEEDED


def test_train_wait_behind_a_running_job_waits_for_its_turn(monkeypatch):
    running = TrainingJob.objects.create(status=TrainingJob.Status.RUNNING)
    naps = []

    def nap(seconds: float) -> None:
        # The running job ends while this one waits.
        naps.append(seconds)
        TrainingJob.objects.filter(pk=running.pk).update(status=TrainingJob.Status.CANCELLED)

    monkeypatch.setattr("training.management.commands.train.time.sleep", nap)
    monkeypatch.setattr(
        "training.management.commands.train.run_job", _run_job_that_claims_or_is_busy
    )
    out = StringIO()

    with pytest.raises(CommandError, match="ended succeeded"):
        call_command("train", "--preset", "quick", "--wait", stdout=out)

    assert f"Waiting: training job {running.pk} is running." in out.getvalue()
    assert len(naps) == 1


def _run_job_that_claims_or_is_busy(job_id, watcher=None):
    """run_job's claim, without the training: busy, or claimed and done."""
    from training.runner import Outcome
    from training.services import job_claim
    from training.services.jobs import job_finish

    job_claim(job_id=job_id)
    job_finish(job_id=job_id, status=TrainingJob.Status.SUCCEEDED)
    return Outcome(status=TrainingJob.Status.SUCCEEDED)
