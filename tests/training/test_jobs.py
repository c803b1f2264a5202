import pytest
from celery.exceptions import Retry
from django.db import IntegrityError, transaction
from kombu.exceptions import OperationalError as KombuOperationalError

from mnistsite.queued_work import BrokerUnavailable
from tests.broker import record_sent_tasks, refuse_tasks
from training.models import TrainingJob
from training.params import ParamsError
from training.services import (
    TrainingBusy,
    job_cancel,
    job_claim,
    job_create,
)
from training.services.jobs import job_finish, job_record_progress
from training.tasks import BUSY_RETRY_SECONDS, train_job_task

pytestmark = pytest.mark.django_db

Status = TrainingJob.Status


@pytest.fixture
def sent(monkeypatch) -> list[dict]:
    """Messages that would have gone to the broker."""
    return record_sent_tasks(monkeypatch)


def test_job_is_enqueued_only_after_its_row_is_committed(sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = job_create(preset="quick")
    assert sent == []  # not before the commit

    for callback in callbacks:
        callback()

    assert sent == [
        {"name": "training.tasks.train_job_task", "args": [job.pk], "task_id": job.celery_task_id}
    ]
    assert job.status == Status.QUEUED
    assert job.params["architecture"] == "cnn_small"
    assert job.epochs == job.params["epochs"]


def test_invalid_parameters_store_nothing_and_say_what_is_wrong(sent):
    with pytest.raises(ParamsError) as error:
        job_create(preset="quick", epochs=0, learning_rate="fast", colour="blue")

    assert set(error.value.errors) == {"epochs", "learning_rate", "colour"}
    assert TrainingJob.objects.count() == 0
    assert sent == []


def test_unknown_preset_is_refused(sent):
    with pytest.raises(ParamsError) as error:
        job_create(preset="ultimate")

    assert "preset" in error.value.errors


def test_broker_down_fails_the_job_instead_of_leaving_it_queued(
    monkeypatch, django_capture_on_commit_callbacks
):
    refuse_tasks(monkeypatch, KombuOperationalError("connection refused"))

    with pytest.raises(BrokerUnavailable), django_capture_on_commit_callbacks(execute=True):
        job_create(preset="quick")

    job = TrainingJob.objects.get()
    assert job.status == Status.FAILED
    assert "broker" in job.error


def test_a_job_is_claimed_once_however_often_its_message_arrives():
    job = TrainingJob.objects.create(epochs=3)

    assert job_claim(job_id=job.pk) is True
    assert job_claim(job_id=job.pk) is False

    job.refresh_from_db()
    assert job.status == Status.RUNNING
    assert job.started_at is not None and job.heartbeat_at is not None


def test_a_second_job_is_not_claimed_while_one_runs_and_stays_queued():
    running = TrainingJob.objects.create(epochs=3)
    waiting = TrainingJob.objects.create(epochs=3)
    assert job_claim(job_id=running.pk) is True

    with pytest.raises(TrainingBusy) as busy:
        job_claim(job_id=waiting.pk)

    assert busy.value.running_job_id == running.pk
    waiting.refresh_from_db()
    assert waiting.status == Status.QUEUED
    job_finish(job_id=running.pk, status=Status.SUCCEEDED)
    assert job_claim(job_id=waiting.pk) is True


def test_the_database_refuses_a_second_running_job():
    TrainingJob.objects.create(epochs=3, status=Status.RUNNING)

    with pytest.raises(IntegrityError), transaction.atomic():
        TrainingJob.objects.create(epochs=3, status=Status.RUNNING)


def test_the_task_of_a_job_that_must_wait_is_retried_later_and_says_why(monkeypatch):
    running = TrainingJob.objects.create(epochs=3, status=Status.RUNNING)
    waiting = TrainingJob.objects.create(epochs=3)
    retries = []

    def record_retry(**options):
        retries.append(options)
        return Retry()

    monkeypatch.setattr(train_job_task, "retry", record_retry)

    with pytest.raises(Retry):
        train_job_task.run(waiting.pk)

    assert retries == [{"countdown": BUSY_RETRY_SECONDS, "max_retries": None}]
    waiting.refresh_from_db()
    assert waiting.status == Status.QUEUED
    assert f"waiting: training job {running.pk} is running" in waiting.log


def test_cancelling_a_queued_job_ends_it_and_it_is_never_claimed():
    job = TrainingJob.objects.create(epochs=3)

    job_cancel(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    assert job_claim(job_id=job.pk) is False


def test_cancelling_a_running_job_makes_its_next_progress_report_say_stop():
    job = TrainingJob.objects.create(epochs=3)
    job_claim(job_id=job.pk)
    assert job_record_progress(job_id=job.pk, epoch=1, epoch_fraction=0.5, eta_seconds=9)

    job_cancel(job_id=job.pk)

    assert not job_record_progress(job_id=job.pk, epoch=1, epoch_fraction=0.6, eta_seconds=8)
    job.refresh_from_db()
    assert job.status == Status.RUNNING  # it ends `cancelled` when the loop stops
    assert job.cancel_requested


def test_cancelling_a_finished_job_changes_nothing():
    job = TrainingJob.objects.create(epochs=3, status=Status.SUCCEEDED)

    job_cancel(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED


def test_progress_combines_epochs_and_the_current_fraction():
    job = TrainingJob(status=Status.RUNNING, epochs=4, epoch=2, epoch_fraction=0.5)

    assert job.progress == pytest.approx(0.375)
