"""Celery tasks of the recognizer: thin, they take ids and call services."""

import json
import logging
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings

from recognizer.callbacks import CallbackRefused, callback_post
from recognizer.models import InferenceBatch
from recognizer.serializers import BatchSerializer
from recognizer.services.batches import batch_callback_record, batch_run, batches_resume_stale
from recognizer.services.retention import originals_expire
from recognizer.services.submission_images import pending_images_flush

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


@shared_task(name="recognizer.tasks.expire_originals_task")
def expire_originals_task() -> int:
    """Periodic (beat): delete uploads older than
    SUBMISSION_ORIGINAL_RETENTION_DAYS (0: kept for ever). Returns how many."""
    days = settings.SUBMISSION_ORIGINAL_RETENTION_DAYS
    if days == 0:
        return 0
    return originals_expire(older_than=timedelta(days=days))


@shared_task(name="recognizer.tasks.flush_pending_images_task")
def flush_pending_images_task() -> int:
    """Periodic (beat): move images kept in the database while the store was
    down into the store. Returns how many."""
    return pending_images_flush()


class NotDelivered(Exception):
    """The callback's receiver did not answer with a 2xx: worth trying again."""


class CallbackDelivery(Task):
    """Retries read their limit from the settings when they happen, and a
    delivery that ends in failure is recorded on the batch."""

    @property
    def max_retries(self) -> int:
        return settings.BATCH_CALLBACK_MAX_RETRIES

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        batch_id = args[0] if args else kwargs["batch_id"]
        batch_callback_record(batch_id=batch_id, delivered=False)


@shared_task(
    base=CallbackDelivery,
    name="recognizer.tasks.batch_callback_task",
    autoretry_for=(NotDelivered,),
    retry_backoff=1,  # 1, 2, 4, ... s: the worker is free in between
    retry_backoff_max=300,
    retry_jitter=False,
)
def batch_callback_task(batch_id: int) -> bool:
    """POST the finished batch to its callback_url; retried while it is not
    delivered, given up after BATCH_CALLBACK_MAX_RETRIES (the batch records
    either). A URL whose host is not public (unless
    BATCH_CALLBACK_ALLOW_PRIVATE_HOSTS) is failed at once, never retried."""
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
    if not delivered:
        raise NotDelivered(f"the callback of batch {batch_id} got no 2xx answer")
    batch_callback_record(batch_id=batch_id, delivered=True)
    return True
