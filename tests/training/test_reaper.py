from datetime import timedelta

import pytest
from django.utils import timezone

from training.models import TrainingJob
from training.services import jobs_reap_stale

pytestmark = pytest.mark.django_db

Status = TrainingJob.Status


def _job(status: str, beat_seconds_ago: float | None) -> TrainingJob:
    heartbeat = (
        None if beat_seconds_ago is None else timezone.now() - timedelta(seconds=beat_seconds_ago)
    )
    return TrainingJob.objects.create(status=status, heartbeat_at=heartbeat)


def test_running_job_without_heartbeat_past_threshold_is_failed_with_reason():
    job = _job(Status.RUNNING, beat_seconds_ago=600)

    reaped = jobs_reap_stale(stale_after=timedelta(seconds=300))

    job.refresh_from_db()
    assert reaped == 1
    assert job.status == Status.FAILED
    assert "No heartbeat for more than 300 s" in job.error
    assert job.finished_at is not None


def test_running_job_with_recent_heartbeat_is_left_running():
    job = _job(Status.RUNNING, beat_seconds_ago=10)

    assert jobs_reap_stale(stale_after=timedelta(seconds=300)) == 0

    job.refresh_from_db()
    assert job.status == Status.RUNNING


@pytest.mark.parametrize("status", [Status.QUEUED, Status.SUCCEEDED, Status.CANCELLED])
def test_jobs_that_are_not_running_are_never_reaped(status):
    job = _job(status, beat_seconds_ago=10_000)

    assert jobs_reap_stale(stale_after=timedelta(seconds=300)) == 0

    job.refresh_from_db()
    assert job.status == status
