"""Parallel requests from one anonymous client, through the whole stack
(middleware, authentication, the throttle, the view, the model), on both
setups the throttle counts on: Redis, and `make run`'s file cache. Exactly
the rate gets through and is stored, the rest is 429 with Retry-After and
stores nothing."""

import threading
import time

import pytest
from django.db import connection

from recognizer.models import Submission
from tests.conftest import HttpsClient
from tests.figures import record
from tests.openapi import served_schema
from tests.security.hostile_cases import INK

THREADS = 8
REQUESTS_PER_THREAD = 20
RATE = 120  # the default anonymous rate's count, per day here:
WINDOW = 86_400  # a burst of a few seconds straddles two windows once in many runs


@pytest.fixture(params=["redis", "file cache"])
def throttle_store(request, settings, tmp_path) -> str:
    if request.param == "redis":
        if not settings.REDIS_URL:
            pytest.skip("REDIS_URL is not set here (CI and production set it)")
    else:
        settings.REDIS_URL = ""
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(tmp_path / "cache"),
            }
        }
    return request.param


@pytest.mark.django_db(transaction=True)  # the threads' own connections see the model
def test_parallel_requests_from_one_client_get_exactly_the_rate(
    active_model, settings, throttle_store
):
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
    if windows == 1:
        assert len(through) == RATE
    else:  # the burst straddled midnight: up to the rate in each day
        assert RATE <= len(through) <= RATE * windows
    assert Submission.objects.count() == len(through)
    assert all(answer.status_code == 429 for answer in refused)
    assert all(answer.json()["code"] == "throttled" for answer in refused)
    assert all(1 <= int(answer["Retry-After"]) <= WINDOW for answer in refused)
    record(
        f"security-4-{throttle_store.replace(' ', '-')}",
        title=f"Throttle under parallel HTTP requests from one anonymous client ({throttle_store})",
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
