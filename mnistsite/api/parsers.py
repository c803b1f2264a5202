import re
from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers, renderers
from rest_framework.utils import json

# NUL and the halves of surrogate pairs: JSON may spell them as \u escapes,
# but they are not text PostgreSQL stores or UTF-8 encodes.
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


class JSONParser(parsers.BaseParser):
    """DRF's JSON parser, except that:
    - the body is read here, under the view's own limit (`max_body_bytes()`,
      else Django's DATA_UPLOAD_MAX_MEMORY_SIZE), checked from Content-Length
      before any of it is read. DRF's reads `request.body`, which holds every
      JSON body to Django's limit (2.5 MB): a JSON batch or a large base64
      image was refused, and with an HTML page;
    - JSON nested deeper than Python can recurse is a 400 (the standard
      library raises RecursionError, which would be a 500);
    - a string (or key) holding NUL or an unpaired surrogate is a 400, as
      I-JSON (RFC 7493) has it: stored, it would fail a batch (PostgreSQL
      refuses it); quoted in an error answer, it would be a 500 (UTF-8 cannot
      encode it)."""

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        # Imported here: errors.py imports DRF's views, which import this module.
        from mnistsite.api.errors import enforce_body_limit

        context = parser_context or {}
        limit = _body_limit(context.get("view"))
        if limit is not None:
            enforce_body_limit(context["request"], limit)
        body = stream.read()
        try:
            data = json.loads(body.decode(context.get("encoding", settings.DEFAULT_CHARSET)))
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
        except ValueError as exc:  # UnicodeDecodeError too
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        # Only a \u escape can make either (raw control characters and invalid
        # UTF-8 are refused by the parse), so most bodies are not walked.
        if b"\\u" in body and _holds_non_text(data):
            raise exceptions.ParseError(
                "JSON parse error - a string holds NUL (\\u0000) or half of a surrogate pair."
            )
        return data


def _body_limit(view: Any) -> int | None:
    """The view's own limit on request bodies, else Django's (None: none)."""
    own = getattr(view, "max_body_bytes", None)
    return own() if own is not None else settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def _holds_non_text(data: Any) -> bool:
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if _NOT_TEXT.search(value):
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False
