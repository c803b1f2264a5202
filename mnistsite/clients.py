"""Who a request comes from, for counting it: the client's address, as the
API's throttles count it, so that a login lockout and a throttle name the
same client behind the same proxies."""

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR, or with THROTTLE_NUM_PROXIES = N trusted proxies in
    front, the address the outermost of them saw (the N-th from the right in
    X-Forwarded-For): what a client writes further left is not trusted."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = request.headers.get("x-forwarded-for")
    if proxies == 0 or not forwarded:
        return remote
    addresses = forwarded.split(",")
    return addresses[-min(proxies, len(addresses))].strip()
