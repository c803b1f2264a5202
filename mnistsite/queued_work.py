"""Work a Celery worker does for a row: a training job, an inference batch.

Both live the same life, queued -> running -> succeeded | failed | cancelled,
so the fields, states and constraints of that life are written once here
(`QueuedWork`), and so is handing the work to a worker (`enqueue`).

Work is sent by its task's registered name, never by importing the task:
services stay below tasks (tasks call services, services never import tasks),
so no import circle runs through them. Routing to queues is by name too
(CELERY_TASK_ROUTES).
"""

import logging
from collections.abc import Callable
from typing import Any

from django.db import models
from django.db.models import Q
from kombu.exceptions import OperationalError as KombuOperationalError

from mnistsite.celery import app

logger = logging.getLogger(__name__)


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class QueuedWork(models.Model):
    """The life of a piece of queued work. The worker claims it with a
    conditional update (queued -> running), so a message delivered twice does
    the work once; while running it beats (`heartbeat_at`), and beat's reaper
    deals with work whose heartbeat stopped."""

    Status = JobStatus
    FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # Known before the message is sent, so a message can be matched to its row.
    celery_task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written by the running worker; running work whose heartbeat stops is
    # taken over by the periodic reaper.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Asked by a person; running work stops at its next safe point.
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=JobStatus.values),
                name="%(app_label)s_%(class)s_status_valid",
            ),
        ]
        # The reaper's look-up: running work by heartbeat.
        indexes = [models.Index(fields=["status", "heartbeat_at"])]


class BrokerUnavailable(Exception):
    """The message could not be sent: the broker is not answering."""


NOT_QUEUED = "Could not be queued: the message broker is not answering."


def enqueue(task_name: str, *, args: list[Any], task_id: str) -> None:
    """Send the task registered as `task_name` with a known id. The broker
    connection gives up after about a second (CELERY_BROKER_CONNECTION_*
    settings), so a request that enqueues answers quickly either way; raises
    BrokerUnavailable."""
    try:
        app.send_task(task_name, args=args, task_id=task_id)
    except (KombuOperationalError, OSError) as exc:
        raise BrokerUnavailable("the message broker is not answering; try again shortly") from exc


def enqueue_or_fail(work: QueuedWork, task_name: str, *, fail: Callable[[str], Any]) -> None:
    """Send `work` to its task (its id as the only argument); when the broker
    refuses, `fail(reason)` it rather than leave it queued with no message,
    and raise BrokerUnavailable."""
    try:
        enqueue(task_name, args=[work.pk], task_id=work.celery_task_id)
    except BrokerUnavailable as exc:
        logger.error("could not enqueue %s %s: %r", task_name, work.pk, exc.__cause__)
        fail(NOT_QUEUED)
        raise
