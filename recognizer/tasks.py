"""Celery tasks of the recognizer: thin, they take ids and call services."""

import json
import logging
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings

from recognizer.callbacks import CallbackRefused, callback_post
from recognizer.models import InferenceBatch
from recognizer.services.batches import batch_callback_record, batch_run, batches_resume_stale

logger = logging.getLogger(__name__)


@shared_task(name="recognizer.tasks.batch_run_task")
def batch_run_task(batch_id: int) -> str | None:
    """Run one inference batch. A second delivery finds it claimed and does nothing."""
    return batch_run(batch_id=batch_id)


@shared_task(name="recognizer.tasks.resume_stale_batches_task")
def resume_stale_batches_task() -> tuple[int, int]:
    """Periodic (beat): requeue running batches whose worker stopped beating."""
    return batches_resume_stale(
        stale_after=timedelta(seconds=settings.BATCH_STALE_AFTER_SECONDS),
        max_attempts=settings.BATCH_MAX_ATTEMPTS,
    )


@shared_task(bind=True, name="recognizer.tasks.batch_callback_task")
def batch_callback_task(self: Task, batch_id: int) -> bool:
    """POST the finished batch to its callback_url. Retried with a growing
    delay (the worker is free in between); given up after
    BATCH_CALLBACK_MAX_RETRIES, which the batch records. A URL whose host is
    not public (unless BATCH_CALLBACK_ALLOW_PRIVATE_HOSTS) is failed at once."""
    from recognizer.serializers import BatchSerializer

    batch = InferenceBatch.objects.select_related("model_version").get(pk=batch_id)
    body = json.dumps(BatchSerializer(batch).data).encode()
    try:
        delivered = callback_post(
            batch.callback_url,
            body,
            timeout=settings.BATCH_CALLBACK_TIMEOUT_SECONDS,
            allow_private=settings.BATCH_CALLBACK_ALLOW_PRIVATE_HOSTS,
        )
    except CallbackRefused as refused:
        logger.warning("callback of batch %s not sent: %s", batch_id, refused)
        batch_callback_record(batch_id=batch_id, delivered=False)
        return False
    if not delivered and self.request.retries < settings.BATCH_CALLBACK_MAX_RETRIES:
        raise self.retry(countdown=min(2**self.request.retries, 300))
    batch_callback_record(batch_id=batch_id, delivered=delivered)
    return delivered
