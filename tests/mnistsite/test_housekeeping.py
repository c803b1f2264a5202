"""Beat's housekeeping: expired sessions do not pile up."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from mnistsite.tasks import clear_expired_sessions_task

pytestmark = pytest.mark.django_db


def _session(expires_in: timedelta) -> str:
    store = SessionStore()
    store["visited"] = True
    store.create()
    Session.objects.filter(pk=store.session_key).update(expire_date=timezone.now() + expires_in)
    return store.session_key


def test_expired_sessions_are_deleted_and_live_ones_kept():
    _session(timedelta(seconds=-1))
    live = _session(timedelta(days=1))

    assert clear_expired_sessions_task() == 1

    assert list(Session.objects.values_list("pk", flat=True)) == [live]


def test_beat_runs_it_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["clear-expired-sessions"]
    assert entry == {"task": clear_expired_sessions_task.name, "schedule": 86400.0}
