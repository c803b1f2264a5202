"""Who a request comes from, for counting it: the client's address exactly as
the API's throttles count it, so that a login lockout (django-axes) and a
throttle name the same client behind the same proxies."""

from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle


def client_address(request: HttpRequest) -> str:
    """REST framework's own reading (THROTTLE_NUM_PROXIES = N trusted proxies
    in front: the N-th address from the right of X-Forwarded-For; 0: the
    connecting address, so clients cannot choose their identity)."""
    return BaseThrottle().get_ident(request)
