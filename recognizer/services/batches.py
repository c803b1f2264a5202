"""The inference batch's life: create and enqueue, claim, run in chunks,
finish, cancel, resume after a dead worker, call back."""

import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from itertools import islice

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from mnistsite.queued_work import BrokerUnavailable, JobStatus, enqueue, enqueue_or_fail
from recognizer.imaging.containers import BatchItem, batch_inspect, batch_items
from recognizer.imaging.decoding import ImageLimits
from recognizer.models import BatchResult, InferenceBatch, Submission, SubmissionSource
from recognizer.predictor import LoadedModel, ModelRef, NoActiveModel, model_for_version
from recognizer.services.fast_insert import insert_rows
from recognizer.services.predictions import Prediction, prediction_from_probabilities
from recognizer.submission_store import (
    SubmissionStoreUnavailable,
    batch_item_stem,
    images_save_many,
)
from training.selectors import active_version

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1000
# A running batch also beats after this many decoded items (cheap ones go fast).
HEARTBEAT_ITEMS = 500
# The worker's tasks, by their registered names (recognizer/tasks.py).
RUN_TASK = "recognizer.tasks.batch_run_task"
CALLBACK_TASK = "recognizer.tasks.batch_callback_task"


def batch_create(
    *,
    created_by: AbstractBaseUser,
    payload: bytes,
    input_format: str,
    callback_url: str = "",
) -> InferenceBatch:
    """Check the container (BatchInputError, nothing stored), pin the active
    version, store the batch and enqueue it once committed. Raises
    NoActiveModel, and BrokerUnavailable when the message cannot be sent (the
    batch is then failed, not left queued without a message)."""
    total = batch_inspect(payload, input_format, max_unpacked=settings.BATCH_MAX_UNPACKED_BYTES)
    version = active_version()
    if version is None:
        raise NoActiveModel("No model version is active.")
    with transaction.atomic():
        batch = InferenceBatch.objects.create(
            created_by=created_by,
            model_version=version,
            input_format=input_format,
            payload=payload,
            total=total,
            celery_task_id=str(uuid.uuid4()),
            callback_url=callback_url,
            callback_status="pending" if callback_url else "",
        )
        transaction.on_commit(lambda: _enqueue(batch))
    return batch


def _enqueue(batch: InferenceBatch) -> None:
    enqueue_or_fail(batch, RUN_TASK, fail=functools.partial(_finish, batch.pk, JobStatus.FAILED))


class NotOurs(Exception):
    """The batch is no longer this run's (the reaper queued it again, another
    run may have claimed it): this run stops without writing."""


def batch_claim(*, batch_id: int) -> int | None:
    """queued -> running, only if still queued: a second delivery of the same
    message does nothing. Returns this run's attempt number, which every
    later write of the run is conditioned on (None: not claimed)."""
    now = timezone.now()
    with transaction.atomic():
        claimed = InferenceBatch.objects.filter(pk=batch_id, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING,
            started_at=Coalesce("started_at", Value(now)),  # a resumed batch keeps its start
            heartbeat_at=now,
            attempts=F("attempts") + 1,
        )
        if claimed != 1:
            return None
        return InferenceBatch.objects.values_list("attempts", flat=True).get(pk=batch_id)


def batch_run(*, batch_id: int) -> str | None:
    """Run a claimed batch to the end, resuming after the items that already
    have a result. Returns the final status, or None if not claimed or left
    for the stale-batch reaper to resume (the database went away)."""
    run = batch_claim(batch_id=batch_id)
    if run is None:
        return None
    batch = InferenceBatch.objects.select_related("model_version").get(pk=batch_id)
    try:
        model = model_for_version(
            ModelRef.of(batch.model_version), threads=settings.INFERENCE_BATCH_THREADS
        )
        # Read after the claim: a chunk the previous run stored before it
        # lost the batch is in here, and it can store none after the claim.
        done = frozenset(batch.results.values_list("index", flat=True))
        items = batch_items(
            bytes(batch.payload),
            batch.input_format,
            ImageLimits(
                max_bytes=settings.PREDICTION_MAX_IMAGE_BYTES,
                max_decoded_bytes=settings.PREDICTION_MAX_DECODED_BYTES,
            ),
            skip=done,
        )
        started, counted = time.perf_counter(), 0
        for chunk, probabilities in _predicted_chunks(model, _beating(items, batch_id, run)):
            _record_chunk(batch, model, chunk, probabilities, run=run)
            counted += len(chunk)
            rate = counted / max(time.perf_counter() - started, 1e-6)
            if not _record_progress(batch_id, rate, run=run):
                break  # cancel asked for, or no longer ours
    except NotOurs:
        logger.warning("batch %s is no longer run %s's (queued again); it stops", batch_id, run)
        return None
    except (OperationalError, InterfaceError, SubmissionStoreUnavailable):
        # The database or the image store went away: not the batch's fault,
        # and it is resumable. Left running, it is queued again once its
        # heartbeat is stale.
        logger.exception("batch %s lost its database or store; it will be resumed", batch_id)
        return None
    except Exception as exc:
        logger.exception("batch %s failed", batch_id)
        failed = _finish(batch_id, JobStatus.FAILED, f"{type(exc).__name__}: {exc}", run=run)
        return JobStatus.FAILED if failed else None
    cancelled = InferenceBatch.objects.filter(pk=batch_id, cancel_requested=True).exists()
    status = JobStatus.CANCELLED if cancelled else JobStatus.SUCCEEDED
    return status if _finish(batch_id, status, run=run) else None


def _beating(items: Iterator[BatchItem], batch_id: int, run: int) -> Iterator[BatchItem]:
    """The items, with a heartbeat at least every BATCH_HEARTBEAT_SECONDS (or
    HEARTBEAT_ITEMS items) of decoding, whatever each item costs: the
    stale-batch reaper then never takes a batch whose worker is working.
    Raises NotOurs as soon as the batch is no longer this run's."""
    last, since = time.monotonic(), 0
    for item in items:
        since += 1
        now = time.monotonic()
        if since >= HEARTBEAT_ITEMS or now - last >= settings.BATCH_HEARTBEAT_SECONDS:
            if not _heartbeat(batch_id, run):
                raise NotOurs()
            last, since = now, 0
        yield item


def _heartbeat(batch_id: int, run: int) -> bool:
    """This run is alive; False if the batch is no longer its own."""
    return (
        InferenceBatch.objects.filter(pk=batch_id, status=JobStatus.RUNNING, attempts=run).update(
            heartbeat_at=timezone.now()
        )
        == 1
    )


def _predicted_chunks(
    model: LoadedModel, items: Iterator[BatchItem]
) -> Iterator[tuple[list[BatchItem], np.ndarray]]:
    """Chunks of items with the probabilities of their good items, the next
    chunk's inference running in a thread while the caller stores this one:
    TensorFlow releases the GIL, so decoding and database writes overlap it.
    The thread never touches the database."""

    def infer(chunk: list[BatchItem]) -> np.ndarray:
        good = [item.digit_input.image28 for item in chunk if item.digit_input is not None]
        if not good:
            return np.zeros((0, 10), dtype=np.float32)
        return model.infer(np.stack(good).astype(np.float32))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-inference") as worker:
        chunk = list(islice(items, CHUNK_SIZE))
        pending = worker.submit(infer, chunk) if chunk else None
        while pending is not None:
            following = list(islice(items, CHUNK_SIZE))
            upcoming = worker.submit(infer, following) if following else None
            yield chunk, pending.result()
            chunk, pending = following, upcoming


def _record_chunk(
    batch: InferenceBatch,
    model: LoadedModel,
    chunk: list[BatchItem],
    probabilities: np.ndarray,
    *,
    run: int,
) -> None:
    """Store every item's result (and each good item's submission) in one
    transaction, which first asserts (and locks) that the batch is still this
    run's: a run that lost the batch to another writes nothing (NotOurs)."""
    good = [item for item in chunk if item.digit_input is not None]
    started = time.perf_counter()
    predictions = {
        item.index: prediction_from_probabilities(row, model=model, started=started)
        for item, row in zip(good, probabilities, strict=True)
    }
    # The files first (outside the transaction: it would hold the batch's
    # lock across the uploads), so that a committed row has its files.
    images = images_save_many(
        [(batch_item_stem(batch.pk, item.index), item.digit_input) for item in good]
    )
    now = timezone.now()
    with transaction.atomic():
        if not _heartbeat(batch.pk, run):  # an UPDATE: the row stays locked until commit
            raise NotOurs()
        submission_ids = insert_rows(
            Submission,
            [
                {
                    "created_at": now,
                    "source": SubmissionSource.BATCH,
                    "image": stored.image,
                    "image_format": item.digit_input.image_format,
                    "preprocessed": stored.preprocessed,
                    "digit": predictions[item.index].digit,
                    "confidence": predictions[item.index].confidence,
                    "probabilities": predictions[item.index].probabilities,
                    "model_version_id": model.ref.pk,
                    "latency_ms": 0.0,
                    "user_id": batch.created_by_id,
                    "session_hash": "",
                }
                for item, stored in zip(good, images, strict=True)
            ],
        )
        submission_for = dict(zip([item.index for item in good], submission_ids, strict=True))
        insert_rows(
            BatchResult, [_result(batch, item, predictions, submission_for) for item in chunk]
        )
        failed = len(chunk) - len(good)
        InferenceBatch.objects.filter(pk=batch.pk).update(
            processed=F("processed") + len(chunk), failed_items=F("failed_items") + failed
        )


def _result(
    batch: InferenceBatch,
    item: BatchItem,
    predictions: dict[int, Prediction],
    submission_for: dict[int, int],
) -> dict:
    """One BatchResult row: the prediction, or the item's error."""
    prediction = predictions.get(item.index)
    return {
        "batch_id": batch.pk,
        "index": item.index,
        "ref": item.ref,
        "submission_id": submission_for.get(item.index),
        "digit": prediction.digit if prediction else None,
        "confidence": prediction.confidence if prediction else None,
        "probabilities": prediction.probabilities if prediction else None,
        "error_code": item.error.code if item.error else "",
        "error_message": item.error.message[:500] if item.error else "",
    }


def _record_progress(batch_id: int, images_per_second: float, *, run: int) -> bool:
    """Heartbeat and throughput; False when the batch should stop."""
    return (
        InferenceBatch.objects.filter(
            pk=batch_id, status=JobStatus.RUNNING, attempts=run, cancel_requested=False
        ).update(heartbeat_at=timezone.now(), images_per_second=round(images_per_second, 1))
        == 1
    )


def _finish(batch_id: int, status: str, error: str = "", *, run: int | None = None) -> bool:
    """An unfinished batch (with `run`: still running as that run) -> a final
    status; the upload is dropped (the results hold what is kept); the
    callback, if any, is sent."""
    batches = InferenceBatch.objects.filter(pk=batch_id)
    if run is not None:
        batches = batches.filter(status=JobStatus.RUNNING, attempts=run)
    finished = (
        batches.exclude(status__in=InferenceBatch.FINISHED).update(
            status=status, finished_at=timezone.now(), error=error[:10_000], payload=b""
        )
        == 1
    )
    if finished:
        transaction.on_commit(lambda: _send_callback(batch_id))
    return finished


def batch_cancel(*, batch_id: int) -> InferenceBatch:
    """A queued batch is cancelled at once; a running one stops after its
    current chunk, keeping the results it has."""
    with transaction.atomic():
        InferenceBatch.objects.filter(pk=batch_id, status=JobStatus.RUNNING).update(
            cancel_requested=True
        )
        queued = InferenceBatch.objects.filter(pk=batch_id, status=JobStatus.QUEUED)
        if queued.update(cancel_requested=True):
            _finish(batch_id, JobStatus.CANCELLED)
    return InferenceBatch.objects.get(pk=batch_id)


def batches_resume_stale(
    *, stale_after: timedelta, max_attempts: int, now: datetime | None = None
) -> tuple[int, int]:
    """Running batches whose worker stopped beating: queued again (they resume
    after their last stored chunk), or failed after `max_attempts`. Returns
    (resumed, failed)."""
    now = now or timezone.now()
    stale = InferenceBatch.objects.filter(
        status=JobStatus.RUNNING, heartbeat_at__lt=now - stale_after
    )
    resumed = failed = 0
    for batch_id, attempts in stale.values_list("pk", "attempts"):
        if attempts >= max_attempts:
            reason = (
                f"Its worker stopped {attempts} times (no heartbeat for over "
                f"{int(stale_after.total_seconds())} s); given up."
            )
            failed += _finish(batch_id, JobStatus.FAILED, reason)
            continue
        task_id = str(uuid.uuid4())
        requeued = stale.filter(pk=batch_id).update(status=JobStatus.QUEUED, celery_task_id=task_id)
        if requeued:
            resumed += 1
            batch = InferenceBatch(pk=batch_id, celery_task_id=task_id)
            with contextlib.suppress(BrokerUnavailable):  # _enqueue failed it, with the reason
                _enqueue(batch)
    return resumed, failed


def _send_callback(batch_id: int) -> None:
    if not settings.BATCH_CALLBACKS_ENABLED:
        return
    if not InferenceBatch.objects.filter(pk=batch_id, callback_status="pending").exists():
        return
    try:
        enqueue(CALLBACK_TASK, args=[batch_id], task_id=str(uuid.uuid4()))
    except BrokerUnavailable:
        logger.error("could not enqueue the callback of batch %s", batch_id)
        InferenceBatch.objects.filter(pk=batch_id).update(callback_status="failed")


def batch_callback_record(*, batch_id: int, delivered: bool) -> None:
    InferenceBatch.objects.filter(pk=batch_id, callback_status="pending").update(
        callback_status="delivered" if delivered else "failed"
    )
