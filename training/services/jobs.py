"""The training job's life: create and enqueue, claim, progress, finish, cancel, reap."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from mnistsite.queued_work import JobStatus, enqueue_or_fail
from training.models import JobTrigger, TrainingJob
from training.params import params_resolve
from training.selectors import feedback_labels_since_last_job, newest_feedback_sample_id

# The worker's task, by its registered name (training/tasks.py).
TRAIN_TASK = "training.tasks.train_job_task"


def job_create(
    *,
    requested_by: AbstractBaseUser | None = None,
    preset: str | None = None,
    enqueue: bool = True,
    trigger: str = JobTrigger.MANUAL,
    **overrides: Any,
) -> TrainingJob:
    """Validate the parameters, store a queued job and enqueue it once the row
    is committed (a worker never sees an id that is not in the database).

    `enqueue=False` is for `train --wait`, which runs the job in its own
    process. Raises ParamsError for bad parameters (nothing stored) and
    BrokerUnavailable when the message cannot be sent (the job is then
    failed, not left queued without a message).
    """
    params = params_resolve(preset=preset, **overrides)
    with transaction.atomic():
        job = TrainingJob.objects.create(
            preset=params.preset,
            params=params.as_dict(),
            epochs=params.total_epochs,
            requested_by=requested_by,
            celery_task_id=str(uuid.uuid4()),
            trigger=trigger,
            feedback_watermark=newest_feedback_sample_id(),
        )
        # Runs when the outermost transaction commits (at once if there is none).
        if enqueue:
            transaction.on_commit(lambda: _enqueue(job))
    return job


def _enqueue(job: TrainingJob) -> None:
    enqueue_or_fail(job, TRAIN_TASK, fail=lambda reason: job_fail(job_id=job.pk, error=reason))


class TrainingBusy(Exception):
    """Another job is running; this one stays queued and is tried again later."""

    def __init__(self, running_job_id: int | None) -> None:
        super().__init__(f"training job {running_job_id} is running")
        self.running_job_id = running_job_id


def job_claim(*, job_id: int) -> bool:
    """queued -> running, only if still queued. False means another delivery
    of the same message (or a cancel) got there first: do nothing.

    Raises TrainingBusy while another job runs: the database allows one
    running job (constraint `one_running_training_job`), whichever worker
    claims it, so two jobs never train at once or interleave registry writes.
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            claimed = TrainingJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
                status=JobStatus.RUNNING, started_at=now, heartbeat_at=now
            )
    except IntegrityError:
        running = TrainingJob.objects.filter(status=JobStatus.RUNNING).first()
        raise TrainingBusy(running.pk if running else None) from None
    return claimed == 1


def job_record_progress(
    *, job_id: int, epoch: int, epoch_fraction: float, eta_seconds: float | None
) -> bool:
    """Progress and heartbeat in one write. Returns False when the job should
    stop: a cancel was asked for, or it is no longer running (reaped)."""
    updated = TrainingJob.objects.filter(
        pk=job_id, status=JobStatus.RUNNING, cancel_requested=False
    ).update(
        epoch=epoch,
        epoch_fraction=min(1.0, max(0.0, epoch_fraction)),
        eta_seconds=eta_seconds,
        heartbeat_at=timezone.now(),
    )
    return updated == 1


def job_set_stage(*, job_id: int, stage: str) -> bool:
    """What the job is doing now, with its heartbeat. Returns False when the
    job should stop (cancelled, or no longer running)."""
    updated = TrainingJob.objects.filter(
        pk=job_id, status=JobStatus.RUNNING, cancel_requested=False
    ).update(stage=stage[:100], heartbeat_at=timezone.now())
    return updated == 1


def job_record_feedback_used(*, job_id: int, count: int) -> None:
    TrainingJob.objects.filter(pk=job_id).update(feedback_samples_used=count)


def job_record_epoch(*, job_id: int, metrics: dict[str, float]) -> None:
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update().get(pk=job_id)
        job.metrics = [*job.metrics, metrics]
        job.heartbeat_at = timezone.now()
        job.save(update_fields=["metrics", "heartbeat_at"])


def job_finish(*, job_id: int, status: str, error: str = "") -> bool:
    """running -> a final status. False if the job was no longer running."""
    return (
        TrainingJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
            status=status, finished_at=timezone.now(), error=error, eta_seconds=None
        )
        == 1
    )


def job_fail(*, job_id: int, error: str) -> None:
    """Any unfinished job -> failed, with the reason."""
    TrainingJob.objects.filter(pk=job_id).exclude(status__in=TrainingJob.FINISHED).update(
        status=JobStatus.FAILED, finished_at=timezone.now(), error=error[:10_000]
    )


def job_cancel(*, job_id: int) -> TrainingJob:
    """A queued job is cancelled at once; a running one is asked to stop and
    does so between two batches. Finished jobs are left as they are."""
    now = timezone.now()
    TrainingJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, finished_at=now, cancel_requested=True
    )
    TrainingJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(cancel_requested=True)
    return TrainingJob.objects.get(pk=job_id)


def jobs_reap_stale(*, stale_after: timedelta, now: datetime | None = None) -> int:
    """Fail every running job whose heartbeat is older than `stale_after`.

    Its worker is presumed dead (killed, out of memory, machine lost). One
    conditional UPDATE: a job that finishes or beats concurrently is not touched.
    Returns how many jobs were failed.
    """
    now = now or timezone.now()
    cutoff = now - stale_after
    seconds = int(stale_after.total_seconds())
    return TrainingJob.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).update(
        status=JobStatus.FAILED,
        finished_at=now,
        error=(
            f"No heartbeat for more than {seconds} s: the worker running this job "
            "stopped (killed, crashed or lost) and the job was marked failed."
        ),
    )


def job_log(*, job_id: int, message: str) -> None:
    """Append a timestamped line to the job's log (one UPDATE, no read)."""
    line = f"{timezone.now():%H:%M:%S} {message}\n"
    TrainingJob.objects.filter(pk=job_id).update(log=Concat(F("log"), Value(line)))


def job_start_on_feedback(*, min_labels: int) -> TrainingJob | None:
    """Start a `standard` job that includes the feedback when at least
    `min_labels` new labels arrived since the last job that trained on
    feedback, and no such job is already queued or running (a database
    constraint guarantees the latter even when two beats race). None when
    nothing was started."""
    if feedback_labels_since_last_job() < min_labels:
        return None
    if TrainingJob.objects.filter(
        trigger=JobTrigger.FEEDBACK, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).exists():
        return None
    try:
        with transaction.atomic():
            return job_create(preset="standard", include_feedback=True, trigger=JobTrigger.FEEDBACK)
    except IntegrityError:
        return None  # another beat started one first
