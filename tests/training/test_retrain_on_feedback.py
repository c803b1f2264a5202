"""Retrain on feedback: counted exactly, off by default, never two jobs at once."""

import numpy as np
import pytest
from django.db import IntegrityError, transaction

from mnistsite.queued_work import JobStatus
from training.models import TrainingJob
from training.selectors import feedback_labels_since_last_job
from training.services import job_create, job_start_on_feedback, labelled_sample_create
from training.tasks import retrain_on_feedback_task

pytestmark = pytest.mark.django_db


def feedback(count: int, source: str = "feedback") -> None:
    for index in range(count):
        labelled_sample_create(
            image=np.full((28, 28), 200, np.uint8), label=index % 10, source=source
        )


def test_new_feedback_labels_are_counted_exactly():
    feedback(3)
    feedback(2, source="relabel")  # staff relabels are not new feedback

    assert feedback_labels_since_last_job() == 3
    job_create(enqueue=False, preset="quick")  # trains on feedback (default)
    assert feedback_labels_since_last_job() == 0
    feedback(4)
    assert feedback_labels_since_last_job() == 4


def test_a_job_that_failed_or_left_feedback_out_does_not_reset_the_count():
    feedback(5)
    failed = job_create(enqueue=False, preset="quick")
    TrainingJob.objects.filter(pk=failed.pk).update(status=JobStatus.FAILED)
    job_create(enqueue=False, preset="quick", include_feedback=False)

    assert feedback_labels_since_last_job() == 5


def test_a_job_starts_at_the_threshold_and_not_before():
    feedback(9)
    assert job_start_on_feedback(min_labels=10) is None

    feedback(1)
    job = job_start_on_feedback(min_labels=10)

    assert job is not None and job.trigger == "feedback" and job.preset == "standard"
    assert job.params["include_feedback"] is True
    assert feedback_labels_since_last_job() == 0


def test_never_two_feedback_jobs_at_once():
    feedback(10)
    first = job_start_on_feedback(min_labels=10)
    TrainingJob.objects.filter(pk=first.pk).update(feedback_watermark=0)  # as if more arrived

    assert job_start_on_feedback(min_labels=10) is None
    with pytest.raises(IntegrityError), transaction.atomic():
        TrainingJob.objects.create(trigger="feedback", status=JobStatus.RUNNING)
    TrainingJob.objects.filter(pk=first.pk).update(status=JobStatus.SUCCEEDED)
    feedback(10)
    assert job_start_on_feedback(min_labels=10) is not None


def test_the_beat_task_is_off_by_default_and_starts_a_job_when_set(settings):
    feedback(3)
    assert retrain_on_feedback_task() is None

    settings.RETRAIN_ON_FEEDBACK_MIN_LABELS = 3
    job_id = retrain_on_feedback_task()

    assert TrainingJob.objects.get(pk=job_id).trigger == "feedback"
    assert retrain_on_feedback_task() is None
