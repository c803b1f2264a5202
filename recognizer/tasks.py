"""Celery tasks of the recognizer: thin, they take ids and call services."""

import json
import urllib.error
import urllib.request
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings

from recognizer.models import InferenceBatch
from recognizer.services.batches import batch_callback_record, batch_run, batches_resume_stale


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
    BATCH_CALLBACK_MAX_RETRIES, which the batch records."""
    from recognizer.serializers import BatchSerializer

    batch = InferenceBatch.objects.select_related("model_version").get(pk=batch_id)
    body = json.dumps(BatchSerializer(batch).data).encode()
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked when the batch was made
        batch.callback_url,
        data=body,
        headers={"Content-Type": "application/json", "User-Agent": "mnistsite-batch-callback"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(  # noqa: S310
            request, timeout=settings.BATCH_CALLBACK_TIMEOUT_SECONDS
        ) as response:
            delivered = 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        delivered = False
    if not delivered and self.request.retries < settings.BATCH_CALLBACK_MAX_RETRIES:
        raise self.retry(countdown=min(2**self.request.retries, 300))
    batch_callback_record(batch_id=batch_id, delivered=delivered)
    return delivered
