"""OpenAPI pieces shared by every API view: the error shape and how our
authentication appears in the schema (drf-spectacular)."""

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

ERROR_DESCRIPTIONS = {
    400: "The request is not valid: `code` says why, `details` names the fields.",
    401: "No credentials: send `Authorization: Token <key>`.",
    403: "Not allowed for these credentials (or the CSRF token is missing).",
    404: "No such object, or not yours.",
    409: "The object is not in a state that allows this.",
    413: "The request body is over the limit.",
    429: "Too many requests; `Retry-After` says when to try again.",
    503: "A service this needs is down (no active model, the broker, the database).",
}


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, e.g. `no_ink`, `throttled`.")
    message = serializers.CharField(help_text="For a person: what is wrong.")
    details = serializers.DictField(
        help_text="Per-field messages when fields were wrong; may be empty."
    )


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    return {
        status: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status])
        for status in statuses
    }


class SessionAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "mnistsite.api.access.SessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}


def add_default_error_response(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular postprocessing hook: every operation may also answer
    with the error shape for statuses it does not list (405, 415, ...)."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            operation.setdefault("responses", {}).setdefault(
                "default",
                {
                    "description": "Any other error, in the same shape.",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            )
    return result
