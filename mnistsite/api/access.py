"""Who may call the API and how often: authentication, permissions and
throttles shared by every API view.

Kept apart from the error handling because REST framework imports these
classes from its settings while its own views module is still loading.
"""

import fcntl
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from rest_framework import authentication, permissions, throttling
from rest_framework.authtoken.models import Token

from mnistsite.clients import client_address

if TYPE_CHECKING:
    import redis

logger = logging.getLogger(__name__)


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's, plus CSRF for anonymous visitors whose session cookie makes them
    someone (their predictions are theirs to give feedback on): DRF itself
    checks CSRF only for logged-in users."""

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is None and settings.SESSION_COOKIE_NAME in request._request.COOKIES:
            self.enforce_csrf(request)
        return result


class IsStaffOrToken(permissions.BasePermission):
    message = "This needs an API token or a staff account."

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user and request.user.is_staff) or isinstance(request.auth, Token)


class ModelPermission(permissions.BasePermission):
    """The caller holds one of Django's model permissions ("app.codename"),
    the same one the admin checks for the same act, so a staff account's
    permissions mean the same in the admin and in the API. Superusers hold
    every permission; anonymous callers none (DRF answers them 401)."""

    perm = ""

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user) and request.user.has_perm(self.perm)


def requires(perm: str) -> type[ModelPermission]:
    """A permission class for `permission_classes`: needs `perm`."""
    return type(
        f"Requires_{perm.replace('.', '_')}",
        (ModelPermission,),
        {"perm": perm, "message": f"This needs the permission {perm}."},
    )


class _FixedWindowThrottle(throttling.BaseThrottle):
    """At most N requests per client in each fixed window (DRF's rate form,
    "120/min", read from settings at every request).

    One atomic increment of a per-window counter in the cache (Redis INCR when
    REDIS_URL is set; make run's file cache under a file lock): parallel
    requests cannot overwrite each other's counts, as they can with DRF's
    read-then-write list of timestamps, and a request costs one Redis round
    trip. A window allows a burst of up to 2N across
    its edge, the usual price of fixed windows. Staff are never throttled. If
    the cache is down, requests are let through (and logged): throttling must
    not take the site down with Redis.
    """

    scope = ""

    def get_ident(self, request: Any) -> str:
        return client_address(request)

    def identity(self, request: Any) -> str | None:
        """Who is counted; None when this throttle does not apply."""
        raise NotImplementedError

    def allow_request(self, request: Any, view: Any) -> bool:
        if request.user and request.user.is_staff:
            return True
        identity = self.identity(request)
        rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get(self.scope)
        if identity is None or rate is None:
            return True
        limit, seconds = _parse_rate(rate)
        now = time.time()
        key = f"throttle:{self.scope}:{identity}:{int(now // seconds)}"
        try:
            used = _count_in_window(key, seconds)
        except Exception as exc:  # any cache failure: fail open, loudly
            logger.warning(
                "throttle %s: cache unavailable (%s); request allowed", self.scope, repr(exc)
            )
            return True
        self._wait = seconds - (now % seconds)
        return used <= limit

    def wait(self) -> float | None:
        """Seconds until the window turns (DRF's Retry-After)."""
        return getattr(self, "_wait", None)


def _count_in_window(key: str, seconds: int) -> int:
    """Add one to the window's counter and return it. On Redis one round trip
    (INCR, and EXPIRE when the key is new, pipelined); through Django's cache
    API it would be three (SET NX, EXISTS, INCR), a third of a millisecond
    more on every throttled request."""
    if settings.REDIS_URL:
        key = f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:{key}"
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


def _parse_rate(rate: str) -> tuple[int, int]:
    """'120/min' -> (120, 60), as DRF reads it (settings checked it already)."""
    count, period = rate.split("/")
    return int(count), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]


class AnonThrottle(_FixedWindowThrottle):
    """Anonymous clients, by address (THROTTLE_ANON_RATE)."""

    scope = "anon"

    def identity(self, request: Any) -> str | None:
        return None if request.user.is_authenticated else self.get_ident(request)


class UserThrottle(_FixedWindowThrottle):
    """Authenticated users and tokens (THROTTLE_USER_RATE)."""

    scope = "user"

    def identity(self, request: Any) -> str | None:
        return str(request.user.pk) if request.user.is_authenticated else None


class PreviewThrottle(_FixedWindowThrottle):
    """Live previews while drawing: a rate of their own, per user or client."""

    scope = "preview"

    def identity(self, request: Any) -> str | None:
        if request.user.is_authenticated:
            return f"user-{request.user.pk}"
        return self.get_ident(request)
