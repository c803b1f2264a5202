"""Celery tasks of the training app: thin, they call services."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from training.services import jobs_reap_stale


@shared_task(name="training.tasks.reap_stale_jobs_task")
def reap_stale_jobs_task() -> int:
    """Periodic (beat): fail running jobs whose worker stopped beating."""
    return jobs_reap_stale(stale_after=timedelta(seconds=settings.TRAINING_STALE_AFTER_SECONDS))
