"""What the site hands to the broker, seen or steered by a test. Services send
work by task name through the Celery app (mnistsite/queued_work.py), so this
is the one seam: `app.send_task`."""

import functools

import pytest

from mnistsite.celery import app


def record_sent_tasks(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Messages recorded instead of sent: {"name", "args", "task_id"} each."""
    sent: list[dict] = []

    def send_task(name, args, task_id):
        sent.append({"name": name, "args": args, "task_id": task_id})

    monkeypatch.setattr(app, "send_task", send_task)
    return sent


def refuse_tasks(monkeypatch: pytest.MonkeyPatch, error: Exception | None = None) -> None:
    """The broker is down: every send raises `error` (connection refused)."""

    def send_task(*args, **kwargs):
        raise error or ConnectionRefusedError("broker down")

    monkeypatch.setattr(app, "send_task", send_task)


def send_tasks_to_queue(monkeypatch: pytest.MonkeyPatch, queue: str) -> None:
    """Every task the site sends goes to `queue` (a test's own worker)."""
    monkeypatch.setattr(app, "send_task", functools.partial(app.send_task, queue=queue))
