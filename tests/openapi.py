"""Every API response the tests see is checked against the OpenAPI schema the
site serves (/api/v1/schema/), so the schema cannot drift from the code."""

import json
from functools import cache

from django.http import HttpResponse
from openapi_core import OpenAPI
from openapi_core.contrib.django import DjangoOpenAPIRequest, DjangoOpenAPIResponse
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound

API_PREFIX = "/api/v1/"
NOT_DESCRIBED = ("/api/v1/schema/", "/api/v1/docs/")


class _RequestWithoutBody(DjangoOpenAPIRequest):
    """Only responses are checked here; the request's body may already have
    been read as a stream (uploads), so it is not offered."""

    @property
    def body(self) -> bytes:
        return b""


@cache
def served_schema() -> OpenAPI:
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return OpenAPI.from_dict(json.loads(OpenApiJsonRenderer().render(schema)))


def check_response_against_schema(response: HttpResponse) -> None:
    request = getattr(response, "wsgi_request", None)
    if request is None or not request.path.startswith(API_PREFIX):
        return
    if request.path.startswith(NOT_DESCRIBED) or response.streaming:
        return
    try:
        served_schema().validate_response(
            _RequestWithoutBody(request), DjangoOpenAPIResponse(response)
        )
    except (PathNotFound, OperationNotFound):
        # A method the API does not have: it must say so with 405, in our shape.
        assert response.status_code == 405, (request.method, request.path, response.status_code)
    except Exception as exc:
        details = getattr(exc, "__cause__", None) or exc
        raise AssertionError(
            f"{request.method} {request.path} -> {response.status_code} does not match the "
            f"OpenAPI schema: {exc!r}: {details!r}\n{response.content[:500]!r}"
        ) from exc
