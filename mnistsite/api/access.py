"""Who may call the API and how often: authentication, permissions and
throttles shared by every API view.

Kept apart from the error handling because REST framework imports these
classes from its settings while its own views module is still loading.
"""

from typing import Any

from django.conf import settings
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.authtoken.models import Token

from mnistsite.api.token_cache import token_recalled, token_remember
from mnistsite.clients import client_address
from mnistsite.rate_windows import window_hit, window_used


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's, with wrong tokens counted per client address: past
    THROTTLE_TOKEN_FAILURE_RATE, every token from that address is answered
    429 until the window turns, so guessing tokens is slow and costs the
    database nothing more. A good token is remembered for
    TOKEN_CACHE_SECONDS (mnistsite/api/token_cache.py)."""

    scope = "token_failures"

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        words = authentication.get_authorization_header(request).split()
        if not words or words[0].lower() != self.keyword.lower().encode():
            return None  # no token: nothing to count, and no cache round trip
        rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][self.scope]
        address = client_address(request)
        within, wait = window_used(self.scope, address, rate)
        if not within:
            raise exceptions.Throttled(wait, detail="Too many wrong API tokens from this address.")
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            window_hit(self.scope, address, rate)
            raise

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        """DRF's look-up (a query), remembered for a while (token_cache)."""
        recalled = token_recalled(key)
        if recalled is not None and recalled[0].is_active:
            return recalled
        user, token = super().authenticate_credentials(key)
        token_remember(key, user, token)
        return user, token


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

    Counted by mnistsite/rate_windows.py: one atomic increment per request,
    exact under parallel requests, as DRF's read-then-write list of
    timestamps is not. Staff are never throttled. If the cache is down,
    requests are let through (and logged).
    """

    scope = ""

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
        allowed, self._wait = window_hit(self.scope, identity, rate)
        return allowed

    def wait(self) -> float | None:
        """Seconds until the window turns (DRF's Retry-After)."""
        return getattr(self, "_wait", None)


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
