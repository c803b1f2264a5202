"""Fixed-window request counters, for the API's throttles and for anything
else that must bound how often one client may do something (pages, logins).

One atomic increment of a per-window counter in the cache: Redis INCR when
REDIS_URL is set (one round trip), else `make run`'s file cache under a file
lock. Parallel requests cannot overwrite each other's counts. A window allows
a burst of up to 2N across its edge, the usual price of fixed windows. If the
cache is down, the request is allowed (and logged): counting must not take
the site down with Redis. After a failure the process does not count for a
few seconds (mnistsite/breakers.py), so a hung Redis costs one request its
timeout, not every request.
"""

import fcntl
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache

from mnistsite.breakers import cache_breaker

if TYPE_CHECKING:
    import redis

logger = logging.getLogger(__name__)


def window_hit(scope: str, identity: str, rate: str) -> tuple[bool, float]:
    """Count one more of `identity`'s requests against `rate` ("120/min");
    (within the rate, seconds until the window turns)."""
    return _window(scope, identity, rate, count=True)


def window_used(scope: str, identity: str, rate: str) -> tuple[bool, float]:
    """Like window_hit, without counting: whether one more request would
    still be within the rate, and seconds until the window turns."""
    return _window(scope, identity, rate, count=False)


def _window(scope: str, identity: str, rate: str, *, count: bool) -> tuple[bool, float]:
    limit, seconds = parse_rate(rate)
    now = time.time()
    key = f"throttle:{scope}:{identity}:{int(now // seconds)}"
    if cache_breaker.is_open():  # failed a moment ago: not waited for again
        return True, 0.0
    try:
        # Counted, this request is one of `used`; read, it would be one more.
        used = _count_in_window(key, seconds) if count else _read_window(key) + 1
    except Exception as exc:  # any cache failure: fail open, loudly
        logger.warning("throttle %s: cache unavailable; request allowed", scope)
        cache_breaker.trip(exc)
        return True, 0.0
    return used <= limit, seconds - (now % seconds)


def _read_window(key: str) -> int:
    if settings.REDIS_URL:
        return int(_redis().get(_redis_key(key)) or 0)
    return int(cache.get(key, 0))


def _redis_key(key: str) -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:{key}"


def _count_in_window(key: str, seconds: int) -> int:
    """Add one to the window's counter and return it. On Redis one round trip
    (INCR, and EXPIRE when the key is new, pipelined); through Django's cache
    API it would be three (SET NX, EXISTS, INCR), a third of a millisecond
    more on every throttled request."""
    if settings.REDIS_URL:
        key = _redis_key(key)
        with _redis().pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, seconds + 1, nx=True)
            used, _ = pipe.execute()
        return used
    # Django's cache API has no atomic increment on the file cache (incr is a
    # read, then a write: parallel requests overwrite each other's counts).
    # The file cache is one machine's by nature, so an exclusive lock on a
    # file beside it makes the two steps one for every thread and process.
    with _counter_lock():
        cache.add(key, 0, timeout=seconds + 1)
        try:
            return cache.incr(key)
        except ValueError:  # expired between the two calls
            return 1


@contextmanager
def _counter_lock() -> Iterator[None]:
    location = settings.CACHES["default"].get("LOCATION")
    if settings.CACHES["default"]["BACKEND"].endswith("FileBasedCache") and location:
        path = Path(location) / "throttle.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file closes
            yield
    else:  # a cache with its own atomic incr (local memory: one process)
        yield


_redis_client: "redis.Redis | None" = None
_redis_lock = threading.Lock()


def _redis() -> "redis.Redis":
    """This process's client for the counters: the cache's Redis, with its
    timeouts. Made once, under a lock: a second client made by a racing
    thread and then dropped would close the connections of its pool, which
    the other thread may be reading (seen as "I/O operation on closed file")."""
    global _redis_client
    if _redis_client is None:
        with _redis_lock:
            if _redis_client is None:
                import redis

                _redis_client = redis.Redis.from_url(
                    settings.REDIS_URL,
                    socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
                    socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
                )
    return _redis_client


def parse_rate(rate: str) -> tuple[int, int]:
    """'120/min' -> (120, 60), as DRF reads it (settings checked it already)."""
    count, period = rate.split("/")
    return int(count), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]
