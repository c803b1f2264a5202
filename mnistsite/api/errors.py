"""The error shape every API answer shares, and the request body limit.

Every error answer is `{"code": "<machine-readable>", "message": "<for a
person>", "details": {...}}`; `details` holds per-field messages when a
field was wrong.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from mnistsite.object_storage import StorageUnavailable


class ApiError(exceptions.APIException):
    """An error answer with our code and message."""

    def __init__(
        self, *, status_code: int, code: str, message: str, details: dict | None = None
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details or {}


class PayloadTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            code="payload_too_large",
            message=f"The request body is over the limit of {limit} bytes.",
        )


def broker_unavailable(consequence: str) -> ApiError:
    """503 for work that could not be handed to a worker."""
    return ApiError(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        code="broker_unavailable",
        message=f"The task queue is not answering, so {consequence}; try again shortly.",
    )


def already_finished(what: str, state: str) -> ApiError:
    """409 for cancelling something that has ended."""
    return ApiError(
        status_code=status.HTTP_409_CONFLICT,
        code="already_finished",
        message=f"The {what} has already ended ({state}).",
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is unreachable: say so, briefly, instead of a 500 page.
        exc = ApiError(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            code="database_unavailable",
            message="The database is not answering; try again shortly.",
        )
    elif isinstance(exc, StorageUnavailable):
        exc = ApiError(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            code="storage_unavailable",
            message="The image store is not answering, so nothing was stored; try again shortly.",
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        # Django's own cap on a form body read into memory: an HTML 400 otherwise.
        exc = PayloadTooLarge(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        exc = exceptions.ParseError(str(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    response.data = _error_body(exc)
    return response


def _error_body(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ApiError):
        return {"code": exc.code, "message": exc.message, "details": exc.details}
    if isinstance(exc, exceptions.ValidationError):
        return {
            "code": "invalid",
            "message": _first_message(exc.detail) or "The request is not valid.",
            "details": exc.detail if isinstance(exc.detail, dict) else {"errors": exc.detail},
        }
    if isinstance(exc, exceptions.Throttled):
        return {
            "code": "throttled",
            "message": f"Too many requests; try again in {exc.wait or 1:.0f} seconds.",
            "details": {"retry_after_seconds": exc.wait},
        }
    if isinstance(exc, exceptions.APIException):
        code = exc.get_codes()
        return {
            "code": code if isinstance(code, str) else exc.default_code,
            "message": str(exc.detail),
            "details": {},
        }
    return {"code": "error", "message": str(exc), "details": {}}


def _first_message(detail: Any, path: str = "") -> str:
    """'image: This field is required.' from a serializer's nested errors."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            prefix = path if key == "non_field_errors" else (f"{path}.{key}" if path else key)
            message = _first_message(value, prefix)
            if message:
                return message
        return ""
    if isinstance(detail, list):
        for value in detail:
            message = _first_message(value, path)
            if message:
                return message
        return ""
    return f"{path}: {detail}" if path else str(detail)


def enforce_body_limit(request: Any, limit: int) -> None:
    """Refuse a body over `limit` bytes from its Content-Length, before any of
    it is read or parsed (DRF's parsers read the stream whole)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise exceptions.ParseError("Content-Length is not a number.") from None
    if length > limit:
        raise PayloadTooLarge(limit)
