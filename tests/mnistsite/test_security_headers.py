"""Security headers on pages, the admin and the API."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/", "/admin/login/", "/api/v1/models/active/", "/api/v1/docs/"])
def test_every_kind_of_route_sends_the_security_headers(client, url):
    response = client.get(url)

    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Strict-Transport-Security"].startswith("max-age=")


def test_the_api_docs_page_has_no_inline_script(client):
    html = client.get("/api/v1/docs/").content.decode()

    assert "<script>" not in html
    assert html.count("<script") == html.count("<script src=")
