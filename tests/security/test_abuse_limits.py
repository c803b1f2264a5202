"""What one client may do over and over is bounded: guessing API tokens,
giving feedback, and starting drawing-page sessions (each a database row)."""

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from rest_framework.authtoken.models import Token

from recognizer.models import Submission
from tests.conftest import HttpsClient
from tests.security.hostile_cases import INK


def rates(settings, **changed: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **changed},
    }


@pytest.mark.django_db
def test_wrong_tokens_from_one_address_are_refused_429_past_the_rate(
    settings, django_user_model, active_model
):
    rates(settings, token_failures="3/day")
    valid = Token.objects.create(user=django_user_model.objects.create_user(username="integrator"))

    def models_with(token: str, address: str = "10.0.0.1"):
        client = HttpsClient(headers={"Authorization": f"Token {token}"}, REMOTE_ADDR=address)
        return client.get("/api/v1/models/")

    wrong = [models_with("0" * 40).status_code for _ in range(3)]
    refused = models_with("1" * 40)
    right_but_refused = models_with(valid.key)
    elsewhere = models_with(valid.key, address="10.0.0.2")

    assert wrong == [401, 401, 401]
    assert refused.status_code == 429 and refused.json()["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 86_400
    assert right_but_refused.status_code == 429
    assert elsewhere.status_code == 200


@pytest.mark.django_db
def test_a_valid_token_is_not_counted_as_a_failure(settings, django_user_model, active_model):
    rates(settings, token_failures="2/day")
    valid = Token.objects.create(user=django_user_model.objects.create_user(username="integrator"))
    client = HttpsClient(headers={"Authorization": f"Token {valid.key}"})

    answers = [client.get("/api/v1/models/").status_code for _ in range(5)]

    assert answers == [200] * 5


@pytest.mark.django_db
def test_feedback_counts_against_the_client_s_rate(settings, django_user_model, active_model):
    rates(settings, user="3/day")
    user = django_user_model.objects.create_user(username="integrator")
    client = HttpsClient(headers={"Authorization": f"Token {Token.objects.create(user=user)}"})
    prediction = client.post(
        "/api/v1/predictions/", {"pixels": INK}, content_type="application/json"
    )
    feedback = f"/api/v1/predictions/{prediction.json()['id']}/feedback/"

    answers = [
        client.post(feedback, {"label": label}, content_type="application/json").status_code
        for label in (1, 2, 3)
    ]

    assert answers == [200, 200, 429]
    assert Submission.objects.get().feedback_label == 2


@pytest.mark.django_db
def test_one_address_starts_at_most_the_rate_of_sessions_and_still_gets_the_page(
    settings, active_model
):
    rates(settings, sessions="3/day")

    pages = [Client(REMOTE_ADDR="10.0.0.1").get("/", secure=True) for _ in range(5)]
    other = Client(REMOTE_ADDR="10.0.0.2").get("/", secure=True)

    assert [page.status_code for page in pages] == [200] * 5
    assert [settings.SESSION_COOKIE_NAME in page.cookies for page in pages] == [True] * 3 + [
        False
    ] * 2
    assert other.status_code == 200 and settings.SESSION_COOKIE_NAME in other.cookies
    assert Session.objects.count() == 4
