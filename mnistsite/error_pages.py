"""The site's 500 handler. A database that is not answering is not a bug in
the site: it is answered 503 with Retry-After (JSON under /api/, like the
API's own errors), so clients and load balancers back off and retry. The pages
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


def server_error(request: HttpRequest) -> HttpResponse:
    # Called while Django handles the exception, so it is still in sys.exc_info().
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        response = _database_unavailable(request)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return HttpResponse(
        _PAGE.format(title="Server error", message="Something went wrong on our side."),
        status=500,
    )


def _database_unavailable(request: HttpRequest) -> HttpResponse:
    message = "The database is not answering; try again shortly."
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "database_unavailable", "message": message, "details": {}}, status=503
        )
    return HttpResponse(_PAGE.format(title="Temporarily unavailable", message=message), status=503)
