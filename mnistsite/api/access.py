"""Who may call the API and how often: authentication, permissions and
throttles shared by every API view.

Kept apart from the error handling because REST framework imports these
classes from its settings while its own views module is still loading.
"""

from typing import Any

from django.conf import settings
from rest_framework import authentication, permissions, throttling
from rest_framework.authtoken.models import Token


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


class _RatesFromSettings:
    """Staff are never throttled; rates are read from settings at each request
    (DRF reads them once, at import), so a changed setting applies."""

    def allow_request(self, request: Any, view: Any) -> bool:
        if request.user and request.user.is_staff:
            return True
        return super().allow_request(request, view)  # type: ignore[misc]

    def get_rate(self) -> str | None:
        return settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get(self.scope)  # type: ignore[attr-defined]


class AnonThrottle(_RatesFromSettings, throttling.AnonRateThrottle):
    pass


class UserThrottle(_RatesFromSettings, throttling.UserRateThrottle):
    pass


class PreviewThrottle(_RatesFromSettings, throttling.SimpleRateThrottle):
    """Live previews while drawing: a rate of their own, per user or client."""

    scope = "preview"

    def get_cache_key(self, request: Any, view: Any) -> str:
        ident = request.user.pk if request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
