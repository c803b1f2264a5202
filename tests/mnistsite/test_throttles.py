"""The API's throttles: exact under parallel requests, per client, and open
(not failing) when the cache is down."""

import threading
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from rest_framework.test import APIRequestFactory

from mnistsite import rate_windows
from mnistsite.api.access import AnonThrottle
from mnistsite.breakers import cache_breaker
from tests.figures import record


@pytest.fixture(autouse=True)
def rate(settings) -> Iterator[None]:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                                   "anon": "10/min"},
    }  # fmt: skip
    cache.clear()
    yield
    cache.clear()


def anonymous_request(address: str = "192.0.2.1"):
    request = APIRequestFactory().post("/api/v1/predictions/", REMOTE_ADDR=address)
    request.user = AnonymousUser()
    return request


@pytest.mark.skipif(
    "redis" not in settings.CACHES["default"]["BACKEND"].lower(),
    reason="exact counts need an atomic increment: Redis (REDIS_URL), as in CI and production; "
    "the embedded file cache is for one developer",
)
def test_parallel_requests_get_exactly_the_rate():
    allowed: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def client() -> None:
        start.wait()
        for _ in range(5):
            result = AnonThrottle().allow_request(anonymous_request(), None)
            with lock:
                allowed.append(result)

    threads = [threading.Thread(target=client) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # 80 requests from one address at once; a window may straddle a minute
    # boundary, so at most two windows' worth.
    assert sum(allowed) in (10, 20)
    assert len(allowed) == 80
    record(
        "security-3",
        title="Throttle counter under parallel requests from one address",
        command="make test ARGS='tests/mnistsite/test_throttles.py'",
        outcome=f"{sum(allowed)} of {len(allowed)} let through at a rate of 10/min "
        f"({sum(allowed) // 10} window(s)), the rest refused",
        requests=len(allowed),
        threads=len(threads),
        let_through=sum(allowed),
        refused=len(allowed) - sum(allowed),
    )


def test_each_address_has_its_own_count():
    throttle = AnonThrottle()
    assert all(throttle.allow_request(anonymous_request("192.0.2.1"), None) for _ in range(10))
    assert not throttle.allow_request(anonymous_request("192.0.2.1"), None)
    assert 0 < throttle.wait() <= 60
    assert throttle.allow_request(anonymous_request("192.0.2.2"), None)


def test_a_cache_that_is_down_lets_requests_through(monkeypatch, settings):
    def down(*args, **kwargs):
        raise ConnectionError("cache is down")

    monkeypatch.setattr(cache, "add", down)  # the embedded file cache
    if settings.REDIS_URL:  # Redis: nothing listens on port 1
        refusing = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_timeout=0.2)
        monkeypatch.setattr(rate_windows, "_redis", lambda: refusing)

    assert all(AnonThrottle().allow_request(anonymous_request(), None) for _ in range(30))


def test_after_a_cache_failure_the_counter_is_not_asked_for_a_while(monkeypatch):
    """A hung Redis costs one request its timeout, not every request."""
    calls = []

    def hangs_then_fails(*args, **kwargs):
        calls.append(args)
        raise TimeoutError("Timeout reading from socket")

    monkeypatch.setattr(rate_windows, "_count_in_window", hangs_then_fails)

    assert all(AnonThrottle().allow_request(anonymous_request(), None) for _ in range(5))
    assert len(calls) == 1
    cache_breaker.reset()  # as when its few seconds are over
    assert AnonThrottle().allow_request(anonymous_request(), None)
    assert len(calls) == 2


@pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis counter (REDIS_URL)")
def test_a_window_counter_expires_with_its_window():
    AnonThrottle().allow_request(anonymous_request("192.0.2.9"), None)

    client = rate_windows._redis()
    (key,) = client.keys("*throttle:anon:192.0.2.9:*")
    assert 0 < client.ttl(key) <= 61


@pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis counter (REDIS_URL)")
def test_threads_starting_together_share_one_client(monkeypatch):
    monkeypatch.setattr(rate_windows, "_redis_client", None)
    clients = []
    start = threading.Barrier(16)

    def first_request() -> None:
        start.wait()
        clients.append(rate_windows._redis())

    threads = [threading.Thread(target=first_request) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(clients) == 16 and len({id(client) for client in clients}) == 1
