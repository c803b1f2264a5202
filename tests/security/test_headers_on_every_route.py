"""The security headers (HSTS, nosniff, X-Frame-Options DENY, Referrer-Policy,
the content security policy) are on every answer: every route of the URL
conf (pages, admin, API, health), as staff and as a stranger, and the error
answers (400 to 500). `manage.py check --deploy` itself is run by
tests/mnistsite/test_settings.py."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token

from recognizer.models import InferenceBatch
from tests.figures import record
from tests.security.hostile_cases import INK
from tests.security.test_secrets_and_uploads import BrowserClient
from training.models import TrainingJob

pytestmark = pytest.mark.django_db

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
CHECKED: dict[str, int] = {}


def missing_headers(response) -> list[str]:
    missing = [name for name, value in EXPECTED.items() if response.get(name) != value]
    if not response.get("Strict-Transport-Security", "").startswith("max-age="):
        missing.append("Strict-Transport-Security")
    if "frame-ancestors 'none'" not in response.get("Content-Security-Policy", ""):
        missing.append("Content-Security-Policy")
    return missing


def every_route(ids: dict[str, int]) -> list[str]:
    """Every route of the URL conf, with ids that exist."""

    def walk(patterns, prefix="/"):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern)

    urls = []
    for route in walk(get_resolver().url_patterns):
        if "(?P<app_label>" in route:
            route = "/admin/training/"
        elif route.endswith("(?P<url>.*)$"):
            route = "/admin/no/such/page/"
        for model, pk in ids.items():
            if f"/{model}/" in route:
                route = re.sub(r"<(?:\w+:)?\w+>", str(pk), route)
        urls.append(re.sub(r"<(?:\w+:)?\w+>", "1", route))
    return urls


@pytest.fixture
def ids(active_model, admin_user) -> dict[str, int]:
    submission = BrowserClient().post(
        "/api/v1/predictions/", {"pixels": INK}, content_type="application/json"
    )
    batch = InferenceBatch.objects.create(
        created_by=admin_user, model_version=active_model, input_format="json", payload=b"[]",
        total=1,
    )  # fmt: skip
    return {
        "submission": submission.json()["id"],
        "predictions": submission.json()["id"],
        "batches": batch.pk,
        "inferencebatch": batch.pk,
        "trainingjob": TrainingJob.objects.create(preset="quick", params={}).pk,
    }


@pytest.mark.parametrize("who", ["staff", "a stranger"])
def test_every_route_answers_with_the_security_headers(ids, admin_user, who):
    client = BrowserClient()
    if who == "staff":
        client.force_login(admin_user)
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=admin_user)}"
    urls = every_route(ids)

    answers = {url: client.get(url) for url in urls}

    assert {url: missing_headers(answer) for url, answer in answers.items()
            if missing_headers(answer)} == {}  # fmt: skip
    statuses = {answer.status_code for answer in answers.values()}
    assert 200 in statuses and (who == "staff" or statuses & {302, 401, 403})
    CHECKED[who] = len(answers)


def test_error_answers_carry_the_security_headers(active_model, monkeypatch, settings):
    def fail(*args, **kwargs):
        raise RuntimeError("an unexpected failure")

    client = BrowserClient()
    settings.PREDICTION_MAX_IMAGE_BYTES = 1000
    too_large = client.post(
        "/api/v1/predictions/", {"image": "A" * 100_000}, content_type="application/json"
    )
    settings.PREDICTION_MAX_IMAGE_BYTES = 5 * 1024 * 1024
    monkeypatch.setattr("recognizer.api.predictions.predict", fail)
    answers = {
        400: client.post("/api/v1/predictions/", {}, content_type="application/json"),
        401: client.get("/api/v1/batches/"),
        403: BrowserClient(enforce_csrf_checks=True).post("/admin/login/"),
        404: client.get("/no/such/page/"),
        405: client.put("/api/v1/models/active/"),
        413: too_large,
        500: client.post("/api/v1/predictions/", {"pixels": INK}, content_type="application/json"),
    }

    assert {status: answer.status_code for status, answer in answers.items()} == {
        status: status for status in answers
    }
    assert {status: missing_headers(answer) for status, answer in answers.items()
            if missing_headers(answer)} == {}  # fmt: skip
    CHECKED["error answers"] = len(answers)


def test_the_headers_figure_is_recorded():
    assert set(CHECKED) == {"staff", "a stranger", "error answers"}, "run the whole module"
    record(
        "security-5",
        title="Security headers on every route and error answer",
        command="make test ARGS='tests/security/test_headers_on_every_route.py'",
        outcome=f"{sum(CHECKED.values())} answers checked, 0 without HSTS, nosniff, "
        "X-Frame-Options DENY, Referrer-Policy and the content security policy",
        answers_as_staff=CHECKED["staff"],
        answers_as_a_stranger=CHECKED["a stranger"],
        error_answers=CHECKED["error answers"],
        missing_headers=0,
    )
