"""Middleware of our own: the Content-Security-Policy header on every
response (Django 5.2 has no built-in one), and query strings with NUL refused.
Scripts only from this site's own files: the drawing page, the admin and the
API docs have no inline script."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from mnistsite.error_pages import error_answer


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY:
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


class RefuseNulInQueryMiddleware:
    """A NUL in a query parameter is never meant, and PostgreSQL refuses it in
    a query: the admin's list filters pass parameters straight to the
    database, which made `?status=%00` a 500. Forms already refuse NUL
    (Django's CharField), and JSON bodies too (mnistsite.api.parsers)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "%00" in request.META.get("QUERY_STRING", ""):
            return error_answer(
                request, 400, "parse_error", "Bad request",
                "The query string holds a NUL character (%00).",
            )  # fmt: skip
        return self.get_response(request)
