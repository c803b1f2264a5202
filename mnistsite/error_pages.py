"""The site's 400, 404 and 500 handlers, and the login lockout's answer.
Under /api/ they answer in the API's JSON error shape, so an integrator never
has to parse an HTML page. A database that is not answering is not a bug in
the site: it is answered 503 with Retry-After, so clients and load balancers
back off and retry. The page (templates/error.html) is rendered without a
request, so no context processor runs: it must not need the database or
anything else that may be down."""

import logging
import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from mnistsite.clients import client_address

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


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
    page = render_to_string("error.html", {"title": title, "message": message})
    return HttpResponse(page, status=status)


def login_locked_out(request: HttpRequest, original_response=None, credentials=None):
    """django-axes' answer to a login attempt while locked out: 429 with
    Retry-After and a message saying what happened and when to try again."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    logger.warning("login locked out: user name %r, address %s",
                   (credentials or {}).get("username", ""), client_address(request))  # fmt: skip
    response = error_answer(
        request, 429, "login_locked_out", "Too many failed logins",
        f"Too many failed logins for this user name or from this address. Logging in is "
        f"refused for {minutes} minutes after the last failure, even with the right password.",
    )  # fmt: skip
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response
