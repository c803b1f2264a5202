"""Delivering a finished batch to its `callback_url` (no Django).

The URL is the integrator's, so the request must not become a way into the
server's own network (SSRF): the host's addresses are resolved and every one
must be public (recognizer/addresses.py) unless private hosts are allowed (a
deployment whose integrators live on its own network), and redirects are not
followed (a public URL could otherwise redirect to an internal one).
"""

import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from recognizer.addresses import is_public, parse_address


class CallbackRefused(Exception):
    """The URL points at an address the server must not call; retrying will not help."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 3xx is then an HTTPError: not delivered


_opener = urllib.request.build_opener(_NoRedirects)


def callback_check_host(url: str, *, allow_private: bool) -> None:
    """Raise CallbackRefused unless every address of the URL's host is public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CallbackRefused("not an http(s) URL with a host")
    if allow_private:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as exc:
        raise CallbackRefused(f"its host does not resolve ({type(exc).__name__})") from None
    for info in infos:
        address = parse_address(info[4][0])
        if not is_public(address):
            raise CallbackRefused(f"its host resolves to a non-public address ({address})")


def callback_post(url: str, body: bytes, *, timeout: float, allow_private: bool) -> bool:
    """POST `body` as JSON; True on a 2xx answer. Raises CallbackRefused.

    The host is checked just before the request; a DNS answer that changes
    between the check and the connection (rebinding) is not covered."""
    callback_check_host(url, allow_private=allow_private)
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        url,
        data=body,
        headers={"Content-Type": "application/json", "User-Agent": "mnistsite-batch-callback"},
        method="POST",
    )
    try:
        with _opener.open(request, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False
