"""Writes to the training app's data. Views, tasks and commands call these."""

from datetime import datetime, timedelta

from django.utils import timezone

from training.models import TrainingJob


def jobs_reap_stale(*, stale_after: timedelta, now: datetime | None = None) -> int:
    """Fail every running job whose heartbeat is older than `stale_after`.

    Its worker is presumed dead (killed, out of memory, machine lost). One
    conditional UPDATE: a job that finishes or beats concurrently is not touched.
    Returns how many jobs were failed.
    """
    now = now or timezone.now()
    cutoff = now - stale_after
    seconds = int(stale_after.total_seconds())
    return TrainingJob.objects.filter(
        status=TrainingJob.Status.RUNNING, heartbeat_at__lt=cutoff
    ).update(
        status=TrainingJob.Status.FAILED,
        finished_at=now,
        error=(
            f"No heartbeat for more than {seconds} s: the worker running this job "
            "stopped (killed, crashed or lost) and the job was marked failed."
        ),
    )
