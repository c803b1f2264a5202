"""A good API token is remembered (mnistsite/api/token_cache.py): the second
request with it asks the database nothing about it, and deleting the token
or deactivating its user takes effect on the very next request."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from mnistsite.breakers import cache_breaker
from tests.conftest import HttpsClient

pytestmark = pytest.mark.django_db
MODELS = "/api/v1/models/"  # any endpoint a token may call


@pytest.fixture
def token(django_user_model) -> Token:
    user = django_user_model.objects.create_user(username="integrator", password="x" * 12)
    return Token.objects.create(user=user)


def get_with(token: Token | str):
    key = token.key if isinstance(token, Token) else token
    return HttpsClient(headers={"Authorization": f"Token {key}"}).get(MODELS)


def token_queries(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "authtoken_token" in q["sql"]]


def test_the_second_request_with_a_token_asks_the_database_nothing_about_it(token):
    with CaptureQueriesContext(connection) as first:
        assert get_with(token).status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert get_with(token).status_code == 200

    assert len(token_queries(first)) == 1
    assert token_queries(second) == []


def test_a_deleted_token_is_refused_on_the_next_request(token):
    assert get_with(token).status_code == 200

    token.delete()

    assert get_with(token).status_code == 401


def test_a_deactivated_user_s_token_is_refused_on_the_next_request(token):
    assert get_with(token).status_code == 200

    token.user.is_active = False
    token.user.save()

    assert get_with(token).status_code == 401


def test_the_cache_holds_neither_the_token_nor_the_password_hash(token, settings, tmp_path):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    assert get_with(token).status_code == 200

    stored = b"".join(path.read_bytes() for path in (tmp_path / "cache").iterdir())
    assert stored  # the entry is there
    assert token.key.encode() not in stored
    assert token.user.password.encode() not in stored


def test_a_recalled_user_is_whole_and_saves_without_losing_its_password(token):
    from mnistsite.api.token_cache import token_recalled

    get_with(token)
    user, recalled = token_recalled(token.key)

    assert (user.pk, user.username, recalled.key, recalled.user) == (
        token.user.pk, "integrator", token.key, user
    )  # fmt: skip
    user.first_name = "Ada"
    user.save()
    token.user.refresh_from_db()
    assert token.user.first_name == "Ada" and token.user.check_password("x" * 12)


def test_with_the_cache_down_a_token_still_works(token, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("the cache is not answering")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "set", down)

    assert get_with(token).status_code == 200
    assert get_with("0" * 40).status_code == 401


def test_with_no_caching_every_request_asks_the_database(token, settings):
    settings.TOKEN_CACHE_SECONDS = 0
    get_with(token)

    with CaptureQueriesContext(connection) as again:
        assert get_with(token).status_code == 200

    assert len(token_queries(again)) == 1


def test_after_a_cache_failure_tokens_go_to_the_database_without_waiting(token, monkeypatch):
    """The get failed: neither the set nor the next requests wait for it."""
    calls = []

    def hangs(*args, **kwargs):
        calls.append(args)
        raise TimeoutError("Timeout reading from socket")

    monkeypatch.setattr(cache, "get", hangs)
    monkeypatch.setattr(cache, "add", hangs)

    assert [get_with(token).status_code for _ in range(3)] == [200, 200, 200]
    assert len(calls) == 1


def test_a_request_that_read_the_token_before_it_was_deleted_cannot_put_it_back(token):
    """The race a plain delete would lose: the request's database read came
    first, its write to the cache after the token was dropped."""
    from mnistsite.api.token_cache import token_recalled, token_remember

    key, user = token.key, token.user
    token.delete()  # dropped, while the request still holds what it read
    token_remember(key, user, token)

    assert not cache_breaker.is_open()
    assert token_recalled(key) is None
    assert get_with(key).status_code == 401
