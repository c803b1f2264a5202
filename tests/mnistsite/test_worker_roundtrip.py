"""A task goes through a real `celery worker` process over the configured
broker (Redis in CI, files by default) and its effect lands in the database
(PostgreSQL in CI)."""

from datetime import timedelta

from django.utils import timezone

from tests.conftest import wait_until
from training.models import TrainingJob
from training.tasks import reap_stale_jobs_task


def test_reaper_task_run_by_a_real_worker_fails_the_stale_job(start_celery_worker):
    queue = start_celery_worker()
    long_ago = timezone.now() - timedelta(hours=2)
    stale = TrainingJob.objects.create(status=TrainingJob.Status.RUNNING, heartbeat_at=long_ago)

    reap_stale_jobs_task.apply_async(queue=queue)

    def stale_job_failed() -> bool:
        stale.refresh_from_db()
        return stale.status == TrainingJob.Status.FAILED

    assert wait_until(stale_job_failed, timeout=60), "the worker never ran the task"
    assert "No heartbeat" in stale.error
    assert stale.finished_at is not None
