"""Celery tasks of the training app: thin, they take ids and call services."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from training.runner import run_job
from training.services import TrainingBusy, job_log, job_start_on_feedback, jobs_reap_stale

# While another job trains, a job waits in the queue and asks again this often.
BUSY_RETRY_SECONDS = 10


@shared_task(
    bind=True,
    name="training.tasks.train_job_task",
    soft_time_limit=settings.TRAINING_SOFT_TIME_LIMIT_SECONDS,
    time_limit=settings.TRAINING_SOFT_TIME_LIMIT_SECONDS + 120,
)
def train_job_task(self, job_id: int) -> str | None:
    """Run one training job. A second delivery of the same message finds the
    job claimed and does nothing; while another job runs, it waits its turn."""
    try:
        outcome = run_job(job_id)
    except TrainingBusy as busy:
        if self.request.retries == 0:
            job_log(job_id=job_id, message=f"waiting: {busy}")
        raise self.retry(countdown=BUSY_RETRY_SECONDS, max_retries=None) from None
    return outcome.status if outcome else None


@shared_task(name="training.tasks.reap_stale_jobs_task")
def reap_stale_jobs_task() -> int:
    """Periodic (beat): fail running jobs whose worker stopped beating."""
    return jobs_reap_stale(stale_after=timedelta(seconds=settings.TRAINING_STALE_AFTER_SECONDS))


@shared_task(name="training.tasks.retrain_on_feedback_task")
def retrain_on_feedback_task() -> int | None:
    """Periodic (beat), when RETRAIN_ON_FEEDBACK_MIN_LABELS is set: start a
    `standard` job once that many new feedback labels have arrived."""
    if settings.RETRAIN_ON_FEEDBACK_MIN_LABELS <= 0:
        return None
    job = job_start_on_feedback(min_labels=settings.RETRAIN_ON_FEEDBACK_MIN_LABELS)
    return job.pk if job else None
