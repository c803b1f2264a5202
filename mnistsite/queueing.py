"""Handing work to Celery workers, with one answer for a broker that is down."""

from typing import Any

from kombu.exceptions import OperationalError as KombuOperationalError


class BrokerUnavailable(Exception):
    """The message could not be sent: the broker is not answering."""


def enqueue(task: Any, *, args: list[Any], task_id: str) -> None:
    """Send `task` with a known id. The broker connection gives up after about
    a second (CELERY_BROKER_CONNECTION_* settings), so a request that enqueues
    answers quickly either way; raises BrokerUnavailable."""
    try:
        task.apply_async(args=args, task_id=task_id)
    except (KombuOperationalError, OSError) as exc:
        raise BrokerUnavailable("the message broker is not answering; try again shortly") from exc
