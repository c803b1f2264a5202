"""Parallel requests from one anonymous client, through the whole stack
(middleware, authentication, the throttle on Redis, the view, the model):
exactly the rate gets through and is stored, the rest is 429 with
Retry-After and stores nothing."""

import threading
import time

import pytest
from django.conf import settings as django_settings
from django.db import connection

from recognizer.models import Submission
from tests.conftest import HttpsClient
from tests.figures import record
from tests.openapi import served_schema
from tests.security.hostile_cases import INK

THREADS = 8
REQUESTS_PER_THREAD = 4
RATE = 5
WINDOW = 86_400  # "/day": a burst of a few seconds straddles two windows once in many runs


@pytest.mark.django_db(transaction=True)  # the threads' own connections see the model
@pytest.mark.skipif(
    "redis" not in django_settings.CACHES["default"]["BACKEND"].lower(),
    reason="exact counts need an atomic increment: Redis (REDIS_URL), as in CI and production",
)
def test_parallel_requests_from_one_client_get_exactly_the_rate(active_model, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "anon": f"{RATE}/day"},
    }  # fmt: skip
    served_schema()  # built once here: drf-spectacular's first build is not thread-safe
    answers, failures = [], []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def visitor() -> None:
        client = HttpsClient()  # one address (REMOTE_ADDR 127.0.0.1): one client to the throttle
        try:
            start.wait()
            for _ in range(REQUESTS_PER_THREAD):
                answer = client.post(
                    "/api/v1/predictions/", {"pixels": INK}, content_type="application/json"
                )
                with lock:
                    answers.append(answer)
        except Exception as exc:  # the test fails on it below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=visitor) for _ in range(THREADS)]
    began = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    windows = 1 + int(time.time() // WINDOW) - int(began // WINDOW)

    through = [answer for answer in answers if answer.status_code == 201]
    refused = [answer for answer in answers if answer.status_code != 201]
    assert failures == [] and len(answers) == THREADS * REQUESTS_PER_THREAD
    assert len(through) == RATE * windows
    assert Submission.objects.count() == len(through)
    assert all(answer.status_code == 429 for answer in refused)
    assert all(answer.json()["code"] == "throttled" for answer in refused)
    assert all(1 <= int(answer["Retry-After"]) <= WINDOW for answer in refused)
    record(
        "security-4",
        title="Throttle under parallel HTTP requests from one anonymous client",
        command="make test ARGS='tests/security/test_throttle_over_http.py'",
        outcome=f"{len(through)} of {len(answers)} got through (the rate: {RATE}), "
        f"{len(refused)} answered 429 with Retry-After, none of them stored",
        requests=len(answers),
        threads=THREADS,
        rate=RATE,
        got_through=len(through),
        refused_429=len(refused),
        submissions_stored=Submission.objects.count(),
    )
