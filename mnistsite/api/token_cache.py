"""API tokens remembered for a short while, so that a request with a token
costs a cache read instead of a database query (a token and its user).

An entry lives TOKEN_CACHE_SECONDS at most and is dropped at once when its
token is deleted or changed, or its user is saved (deactivated, made staff or
not) or deleted; those signals are connected when the site starts
(mnistsite/apps.py). A bulk `update()` of users sends no signal: such a
change reaches token requests within TOKEN_CACHE_SECONDS. The cache fails
open: when it does not answer, the database is asked, as without it, and for
a few seconds after a failure it is not asked at all (the cache's circuit
breaker, shared with the throttles), so a hung Redis adds no timeouts.

Dropping leaves a marker for FORGOTTEN_SECONDS, and entries are only ever
added where there is none (SET NX): a request that read the token from the
database just before the change (or before the change's transaction
committed) cannot put the old state back after the drop.
"""

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_delete, post_save
from rest_framework.authtoken.models import Token

from mnistsite.breakers import cache_breaker

logger = logging.getLogger(__name__)

# Longer than any request takes between its database read and its write to
# the cache, and than an admin change's transaction stays open.
FORGOTTEN_SECONDS = 30
_FORGOTTEN = "forgotten"


def _cache_key(key: str) -> str:
    # Never the token itself: a copy of the cache must not be a list of tokens.
    return "api-token:" + hashlib.sha256(key.encode()).hexdigest()


def token_recalled(key: str) -> tuple[Any, Token] | None:
    """(user, token) remembered for `key`, or None."""
    if not settings.TOKEN_CACHE_SECONDS or cache_breaker.is_open():
        return None
    try:
        remembered = cache.get(_cache_key(key))
    except Exception as exc:  # the cache is an optimisation: never a reason to fail
        logger.warning("token cache unreadable; asking the database")
        cache_breaker.trip(exc)
        return None
    if remembered is None or remembered == _FORGOTTEN:
        return None
    user_fields, created = remembered
    # As loaded from the database without its password: reading that field
    # fetches it, and saving the user writes only what was loaded.
    user = get_user_model().from_db(DEFAULT_DB_ALIAS, list(user_fields), user_fields.values())
    token = Token.from_db(DEFAULT_DB_ALIAS, ["key", "user_id", "created"], [key, user.pk, created])
    token.user = user
    return user, token


def token_remember(key: str, user: Any, token: Token) -> None:
    """Remember the user's fields but its password, and when the token was
    made: never the token's key nor a password hash."""
    if not settings.TOKEN_CACHE_SECONDS or cache_breaker.is_open():
        return
    fields = {
        field.attname: getattr(user, field.attname)
        for field in user._meta.concrete_fields
        if field.attname != "password"
    }
    try:
        cache.add(_cache_key(key), (fields, token.created), settings.TOKEN_CACHE_SECONDS)
    except Exception as exc:
        logger.warning("token cache unwritable")
        cache_breaker.trip(exc)


def token_forget(key: str) -> None:
    # Tried even while the breaker is open: a change must reach the cache if
    # it answers at all (it is rare: admin edits, not requests).
    try:
        cache.set(_cache_key(key), _FORGOTTEN, FORGOTTEN_SECONDS)
    except Exception:
        # Not dropped: the entry ends with its timeout (TOKEN_CACHE_SECONDS).
        logger.warning("token cache entry not dropped", exc_info=True)


def _token_changed(sender: Any, instance: Token, created: bool = False, **kwargs: Any) -> None:
    if not created:  # a new token cannot have been remembered
        token_forget(instance.key)


def _user_changed(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    if created:
        return
    for key in Token.objects.filter(user_id=instance.pk).values_list("key", flat=True):
        token_forget(key)


def connect_signals() -> None:
    for signal in (post_save, post_delete):
        signal.connect(_token_changed, sender=Token, dispatch_uid=f"token-cache-{signal}")
        signal.connect(
            _user_changed, sender=get_user_model(), dispatch_uid=f"token-cache-user-{signal}"
        )
