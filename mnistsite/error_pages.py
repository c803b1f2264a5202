"""The site's 400, 404 and 500 handlers. Under /api/ they answer in the API's
JSON error shape, so an integrator never has to parse an HTML page. A
database that is not answering is not a bug in the site: it is answered 503
with Retry-After, so clients and load balancers back off and retry. The pages
are plain HTML: rendering them must not need the database or anything else
that may be down."""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

RETRY_AFTER_SECONDS = 5
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1><p>{message}</p><p><a href="/">Back to the drawing page</a></p></body>
</html>
"""


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    # Django's answer to a SuspiciousOperation it caught before any view (a
    # Host header not in ALLOWED_HOSTS, a malformed cookie...); the detail is
    # logged by Django and not echoed back.
    return error_answer(
        request, 400, "bad_request", "Bad request",
        "The request was malformed (for example, a host name this site does not serve).",
    )  # fmt: skip


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return error_answer(request, 404, "not_found", "Not found", "There is nothing at this address.")


def server_error(request: HttpRequest) -> HttpResponse:
    # Called while Django handles the exception, so it is still in sys.exc_info().
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        response = error_answer(
            request, 503, "database_unavailable", "Temporarily unavailable",
            "The database is not answering; try again shortly.",
        )  # fmt: skip
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return error_answer(
        request, 500, "server_error", "Server error", "Something went wrong on our side."
    )


def error_answer(request: HttpRequest, status: int, code: str, title: str, message: str):
    """The API's error shape under /api/, a plain page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": code, "message": message, "details": {}}, status=status)
    return HttpResponse(_PAGE.format(title=title, message=message), status=status)
