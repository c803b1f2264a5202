import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from training.models import ModelVersion

pytestmark = pytest.mark.django_db


def test_home_page_says_when_no_model_is_active(client):
    response = client.get("/")

    assert response.status_code == 200
    assert b"No model version is active yet" in response.content
    assert b"/static/css/site.css" in response.content


def test_home_page_names_the_active_model_version(client):
    ModelVersion.objects.create(version=4, architecture="cnn", is_active=True, test_accuracy=0.9931)

    response = client.get("/")

    assert b"Serving model version 4" in response.content


def test_admin_asks_anonymous_visitors_to_log_in(client):
    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_admin_shows_training_models_to_staff(client):
    admin = get_user_model().objects.create_superuser(username="staff", password="pw-long-enough")
    client.force_login(admin)

    response = client.get("/admin/")

    assert response.status_code == 200
    assert b"Model versions" in response.content
    assert b"Training jobs" in response.content


def test_pages_carry_security_headers(client):
    response = client.get("/")

    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_plain_http_is_redirected_to_https_except_the_health_probe():
    plain = Client()

    assert plain.get("/").status_code == 301
    assert plain.get("/").headers["Location"] == "https://testserver/"
    assert plain.get("/healthz").status_code == 200
