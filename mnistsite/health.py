"""`GET /healthz`: is the database answering, is the broker answering, which
model serves. 200 when the database and the broker answer, 503 otherwise.

Each probe runs in its own daemon thread with a deadline, so a service that
hangs (not just one that refuses) still gets an answer out in time; what
failed is logged in full here and named only by its kind in the response,
which is public.
"""

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from kombu import Connection

from recognizer.predictor import predictor
from training.selectors import active_version

logger = logging.getLogger(__name__)


def run_probes(probes: dict[str, Callable[[], None]], seconds: float) -> dict[str, dict]:
    """Run every probe at once, each in a daemon thread, and give each until
    the shared deadline. A probe still running then counts as down.
    """
    outcomes: dict[str, dict[str, Any]] = {name: {} for name in probes}

    def target(name: str, probe: Callable[[], None]) -> None:
        started = time.perf_counter()
        try:
            probe()
        except Exception as exc:
            outcomes[name]["error"] = exc
        outcomes[name]["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)

    threads = {
        name: threading.Thread(
            target=target, args=(name, probe), name=f"healthz-{name}", daemon=True
        )
        for name, probe in probes.items()
    }
    deadline = time.monotonic() + seconds
    for thread in threads.values():
        thread.start()
    results = {}
    for name, thread in threads.items():
        thread.join(max(0.0, deadline - time.monotonic()))
        outcome = outcomes[name]
        if thread.is_alive():
            logger.warning("healthz: %s gave no answer within %g s", name, seconds)
            results[name] = {"ok": False, "error": f"no answer within {seconds:g} s"}
        elif "error" in outcome:
            logger.warning("healthz: %s is down: %r", name, outcome["error"])
            results[name] = {
                "ok": False,
                "error": f"not answering ({type(outcome['error']).__name__})",
            }
        else:
            results[name] = {"ok": True, "latency_ms": outcome["latency_ms"]}
    return results


def _ping_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        # This thread's own connection: close it, nobody else will.
        connection.close()


def _ping_broker() -> None:
    url = settings.CELERY_BROKER_URL
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    options = {
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        "max_retries": 0,
    }
    if url.startswith("filesystem:"):
        # The filesystem transport "connects" to anything; what matters is
        # that its queue folder is there and writable.
        folder = Path(options["data_folder_out"])
        if not (folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)):
            raise OSError(f"broker folder {folder} is missing or not writable")
        return
    with Connection(url, transport_options=options, connect_timeout=timeout) as conn:
        conn.ensure_connection(max_retries=0)
        # Opening a channel makes the transport talk to the server (Redis: PING).
        conn.default_channel  # noqa: B018


def _model_state(database_ok: bool) -> dict[str, Any]:
    if not database_ok:
        return {"active_version": None, "detail": "unknown: the database is not answering"}
    version = active_version()
    if version is None:
        return {"active_version": None, "detail": "no model version is active yet"}
    # What this process serves: the active version, or (while the active one
    # cannot be loaded) an earlier one or none, and why.
    return {
        "active_version": version.version,
        "test_accuracy": version.test_accuracy,
        **predictor().state(),
    }


def health_report() -> tuple[bool, dict[str, Any]]:
    results = run_probes(
        {"database": _ping_database, "broker": _ping_broker},
        settings.HEALTH_CHECK_TIMEOUT_SECONDS,
    )
    database, broker = results["database"], results["broker"]
    database["engine"] = connection.vendor
    broker["transport"] = settings.CELERY_BROKER_URL.split(":", 1)[0]
    healthy = database["ok"] and broker["ok"]
    return healthy, {
        "status": "ok" if healthy else "unavailable",
        "checks": {"database": database, "broker": broker, "model": _model_state(database["ok"])},
    }


@method_decorator(never_cache, name="dispatch")
class HealthzView(View):
    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest) -> JsonResponse:
        healthy, report = health_report()
        return JsonResponse(report, status=200 if healthy else 503)
