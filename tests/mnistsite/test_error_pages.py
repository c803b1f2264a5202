"""A database that is not answering is a 503 with Retry-After everywhere,
also where the API's own handler does not reach (pages, middleware); other
unexpected errors stay a plain 500 that reveals nothing."""

import pytest
from django.db import OperationalError
from django.test import Client

from recognizer.views import HomeView


@pytest.fixture
def page_client() -> Client:
    client = Client(raise_request_exception=False)
    client.defaults["wsgi.url_scheme"] = "https"
    return client


def test_a_page_is_503_with_retry_after_while_the_database_is_down(page_client, monkeypatch):
    def database_down(*args, **kwargs):
        raise OperationalError('connection to server at "db" failed: secret detail')

    monkeypatch.setattr(HomeView, "get", database_down)

    response = page_client.get("/", secure=True)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"Temporarily unavailable" in response.content
    assert b"secret detail" not in response.content


def test_an_api_route_outside_the_api_handler_answers_json(page_client, monkeypatch):
    def database_down(self, request, *args, **kwargs):
        raise OperationalError("the server closed the connection")

    # Sessions are saved after the view: that is beyond DRF's exception handler.
    monkeypatch.setattr(
        "django.contrib.sessions.middleware.SessionMiddleware.process_response", database_down
    )

    response = page_client.get("/api/v1/models/", secure=True)

    assert response.status_code == 503
    assert response.json() == {
        "code": "database_unavailable",
        "message": "The database is not answering; try again shortly.",
        "details": {},
    }


def test_any_other_error_is_a_plain_500(page_client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug with a secret detail")

    monkeypatch.setattr(HomeView, "get", broken)

    response = page_client.get("/", secure=True)

    assert response.status_code == 500
    assert b"Server error" in response.content
    assert b"secret detail" not in response.content


def test_an_unknown_api_route_is_a_json_404(page_client):
    response = page_client.get("/api/v1/no-such-thing/", secure=True)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_an_unexpected_error_in_the_api_is_a_json_500(page_client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug with a secret detail")

    monkeypatch.setattr("django.contrib.sessions.middleware.SessionMiddleware.process_response",
                        broken)  # fmt: skip

    response = page_client.get("/api/v1/models/", secure=True)

    assert response.status_code == 500
    assert response.json() == {
        "code": "server_error",
        "message": "Something went wrong on our side.",
        "details": {},
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    ["/admin/training/trainingjob/?status=%00", "/?x=%00", "/api/v1/predictions/?preview=%00"],
)
def test_a_nul_in_the_query_string_is_a_400(url, admin_client):
    response = admin_client.get(url, secure=True)

    assert response.status_code == 400
    assert b"NUL" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_bad_host_header_under_the_api_is_a_json_400(page_client, method):
    response = getattr(page_client, method)(
        "/api/v1/predictions/", secure=True, HTTP_HOST="evil.example"
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "bad_request",
        "message": "The request was malformed (for example, a host name this site does not serve).",
        "details": {},
    }
    assert b"evil.example" not in response.content


def test_a_bad_host_header_on_a_page_is_a_plain_400(page_client):
    response = page_client.get("/", secure=True, HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert b"<h1>Bad request</h1>" in response.content
