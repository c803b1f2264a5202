"""Housekeeping tasks of the site itself (beat)."""

from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone


@shared_task(name="mnistsite.tasks.clear_expired_sessions_task")
def clear_expired_sessions_task() -> int:
    """Every visit of the drawing page starts a session (for CSRF and for
    feedback on one's own predictions), so expired ones are deleted daily
    instead of piling up. Returns how many were deleted."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
