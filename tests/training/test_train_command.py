from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.broker import record_sent_tasks
from training.models import ModelVersion, TrainingJob

pytestmark = pytest.mark.django_db


def test_train_without_wait_queues_the_job_and_prints_its_id(
    monkeypatch, django_capture_on_commit_callbacks
):
    sent = record_sent_tasks(monkeypatch)
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("train", "--preset", "quick", stdout=out)

    job = TrainingJob.objects.get()
    assert f"Queued training job {job.pk}" in out.getvalue()
    assert [message["args"] for message in sent] == [[job.pk]]


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


def test_train_passes_pen_copies_to_the_job(monkeypatch):
    record_sent_tasks(monkeypatch)

    call_command("train", "--preset", "quick", "--pen-copies", "0", stdout=StringIO())

    assert TrainingJob.objects.get().params["pen_copies"] == 0


def test_train_with_pen_copies_out_of_range_fails_naming_it():
    with pytest.raises(CommandError, match="pen_copies: must be between 0 and 16"):
        call_command("train", "--pen-copies", "17")
    assert TrainingJob.objects.count() == 0


@pytest.mark.parametrize("canvas", [True, False])
def test_train_wait_prints_the_canvas_score_or_says_there_is_none(monkeypatch, canvas):
    def run_job(job_id, watcher=None):
        from training.runner import Outcome

        confusion = [[140 if i == j else 0 for j in range(10)] for i in range(10)]
        version = ModelVersion.objects.create(
            version=7, architecture="cnn_small", test_accuracy=0.99, test_loss=0.03,
            per_class_accuracy=[0.99] * 10, confusion_matrix=confusion,
            **({"canvas_accuracy": 0.9713, "canvas_per_class_accuracy": [0.9713] * 10,
                "canvas_confusion_matrix": confusion, "canvas_set_sha256": "c" * 64}
               if canvas else {}),
        )  # fmt: skip
        return Outcome(status=TrainingJob.Status.SUCCEEDED, version=version)

    monkeypatch.setattr("training.management.commands.train.run_job", run_job)
    out = StringIO()

    call_command("train", "--preset", "quick", "--wait", stdout=out)

    text = out.getvalue()
    if canvas:
        assert "Canvas accuracy 97.1300% (held-out writers' pen-drawn digits" in text
        assert text.count("Confusion matrix") == 2 and "97.13%" in text
    else:
        assert "No canvas score: the job had no pen-drawn digits." in text
        assert text.count("Confusion matrix") == 1


def _run_job_that_claims_or_is_busy(job_id, watcher=None):
    """run_job's claim, without the training: busy, or claimed and done."""
    from training.runner import Outcome
    from training.services import job_claim
    from training.services.jobs import job_finish

    job_claim(job_id=job_id)
    job_finish(job_id=job_id, status=TrainingJob.Status.SUCCEEDED)
    return Outcome(status=TrainingJob.Status.SUCCEEDED)
