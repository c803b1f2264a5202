"""CSRF: a write riding on a browser's session cookie must carry the CSRF
token. Every write route of the API (enumerated from the URL conf, so a new
one cannot be left out) refuses it without the token (403, nothing changed)
and takes it with the token from the cookie, for a staff session and, where
a visitor may write, an anonymous visitor's session; so do the admin's POST
forms, and every admin URL refuses a POST without the token. A token-
authenticated API call needs no CSRF token: no browser sends one by itself.
"""

import re

import pytest
from django.contrib import admin
from django.contrib.sessions.models import Session
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token
from rest_framework.views import APIView

from mnistsite.api.access import SessionAuthentication
from recognizer.models import BatchResult, InferenceBatch, Submission
from recognizer.services import submission_feedback
from tests.conftest import HttpsClient
from tests.figures import record
from tests.mnistsite.test_api_permissions import api_routes
from tests.security.hostile_cases import INK
from training.models import LabelledSample, ModelActivation, ModelVersion, TrainingJob
from training.services import version_activate

pytestmark = pytest.mark.django_db

SITE = {"Origin": "https://testserver"}  # over HTTPS Django also checks where a POST comes from
# Every write route of the API: its body and the answer it gets when accepted.
API_WRITES = {
    ("POST", "/api/v1/predictions/"): ({"pixels": INK}, 201),
    ("POST", "/api/v1/predictions/{id}/feedback/"): ({"label": 3}, 200),
    ("POST", "/api/v1/batches/"): ({"items": [{"pixels": INK}]}, 202),
    ("POST", "/api/v1/batches/{id}/cancel/"): ({}, 200),
    ("POST", "/api/v1/models/{version}/activate/"): ({"reason": "CSRF test"}, 200),
    ("POST", "/api/v1/training-jobs/"): ({"preset": "quick"}, 202),
    ("POST", "/api/v1/training-jobs/{id}/cancel/"): ({}, 200),
}
VISITOR_WRITES = [("POST", "/api/v1/predictions/"), ("POST", "/api/v1/predictions/{id}/feedback/")]
REFUSED: dict[str, set[str]] = {"api": set(), "admin forms": set(), "admin urls": set()}
ACCEPTED: set[str] = set()


@pytest.fixture
def world(active_model, django_user_model) -> dict:
    """A staff member, an inactive version 2, a queued job and batch, a prediction."""
    staff = django_user_model.objects.create_user(
        username="staff", is_staff=True, is_superuser=True
    )
    version = ModelVersion.objects.create(
        version=2,
        architecture="cnn_small",
        artifact_path=active_model.artifact_path,
        artifact_sha256=active_model.artifact_sha256,
    )
    batch = InferenceBatch.objects.create(
        created_by=staff, model_version=active_model, input_format="json", payload=b"[]", total=1
    )
    prediction = HttpsClient().post(
        "/api/v1/predictions/", {"pixels": INK}, content_type="application/json"
    )
    return {
        "staff": staff,
        "version": version,
        "job": TrainingJob.objects.create(preset="quick", params={}),
        "batch": batch,
        "submission": Submission.objects.get(pk=prediction.json()["id"]),
    }


def browser(user=None) -> HttpsClient:
    """A browser that checks CSRF as a real one is checked; the drawing page
    starts its session and sets the CSRF cookie."""
    client = HttpsClient(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    client.get("/")
    return client


def with_token(client: HttpsClient) -> dict[str, str]:
    return {**SITE, "X-CSRFToken": client.cookies["csrftoken"].value}


def state() -> tuple:
    """Everything a write could change."""
    return (
        {
            model.__name__: model.objects.count()
            for model in (
                Submission,
                InferenceBatch,
                BatchResult,
                TrainingJob,
                LabelledSample,
                ModelActivation,
                ModelVersion,
                Token,
                Session,
            )
        },
        list(ModelVersion.objects.filter(is_active=True).values_list("version", flat=True)),
        list(TrainingJob.objects.order_by("pk").values_list("status", "cancel_requested")),
        list(InferenceBatch.objects.order_by("pk").values_list("status", "cancel_requested")),
        list(Submission.objects.order_by("pk").values_list("feedback_label", flat=True)),
        list(LabelledSample.objects.order_by("pk").values_list("excluded", flat=True)),
        sorted(str(s.get_decoded().get("_auth_user_id")) for s in Session.objects.all()),
    )


def api_path(template: str, world: dict) -> str:
    return (
        template.replace("/predictions/{id}", f"/predictions/{world['submission'].pk}")
        .replace("/batches/{id}", f"/batches/{world['batch'].pk}")
        .replace("/training-jobs/{id}", f"/training-jobs/{world['job'].pk}")
        .replace("{version}", str(world["version"].version))
    )


def test_every_api_write_route_is_checked_here():
    writes = {(method, path) for method, path, _ in api_routes() if method != "GET"}

    assert writes == set(API_WRITES)


def test_no_view_skips_the_csrf_check_unless_it_checks_it_itself():
    """Django's middleware checks every view but those marked exempt; DRF's
    views are exempt and check CSRF in their session authentication."""

    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                yield pattern.callback

    for callback in walk(get_resolver().url_patterns):
        view = getattr(callback, "cls", None)
        if not getattr(callback, "csrf_exempt", False):
            continue
        assert view is not None and issubclass(view, APIView), callback
        sessions = [
            auth for auth in view().get_authenticators() if "Session" in type(auth).__name__
        ]
        assert all(isinstance(auth, SessionAuthentication) for auth in sessions), view


@pytest.mark.parametrize("route", API_WRITES, ids=" ".join)
def test_a_staff_session_writes_to_the_api_only_with_the_csrf_token(world, route):
    body, accepted = API_WRITES[route]
    staff = browser(world["staff"])
    path = api_path(route[1], world)
    before = state()

    refused = staff.post(path, body, content_type="application/json", headers=SITE)
    unchanged = state()
    answered = staff.post(path, body, content_type="application/json", headers=with_token(staff))

    assert refused.status_code == 403 and "CSRF" in refused.json()["message"]
    assert unchanged == before
    assert answered.status_code == accepted, answered.json()
    assert state() != before
    REFUSED["api"].add(f"staff {route}")
    ACCEPTED.add(f"staff {route}")


@pytest.mark.parametrize("route", VISITOR_WRITES, ids=" ".join)
def test_a_visitors_session_writes_to_the_api_only_with_the_csrf_token(active_model, route):
    visitor = browser()
    made = visitor.post(
        "/api/v1/predictions/",
        {"pixels": INK},
        content_type="application/json",
        headers=with_token(visitor),
    )
    path = route[1].replace("{id}", str(made.json()["id"]))
    body, accepted = API_WRITES[route]
    before = state()

    refused = visitor.post(path, body, content_type="application/json", headers=SITE)
    unchanged = state()
    answered = visitor.post(
        path, body, content_type="application/json", headers=with_token(visitor)
    )

    assert refused.status_code == 403 and "CSRF" in refused.json()["message"]
    assert unchanged == before
    assert answered.status_code == accepted, answered.json()
    assert state() != before
    REFUSED["api"].add(f"visitor {route}")
    ACCEPTED.add(f"visitor {route}")


def test_a_token_needs_no_csrf_token_even_beside_a_session(world):
    staff = browser(world["staff"])
    token = Token.objects.create(user=world["staff"])

    answered = staff.post(
        "/api/v1/batches/",
        {"items": [{"pixels": INK}]},
        content_type="application/json",
        headers={"Authorization": f"Token {token.key}"},
    )

    assert answered.status_code == 202


@pytest.mark.parametrize("origin", ["https://evil.example", "http://testserver", "null"])
def test_the_token_from_another_origin_is_refused(world, origin):
    staff = browser(world["staff"])
    before = state()

    refused = staff.post(
        "/api/v1/training-jobs/",
        {"preset": "quick"},
        content_type="application/json",
        headers={**with_token(staff), "Origin": origin},
    )

    assert refused.status_code == 403
    assert state() == before


def _relabel(world: dict) -> tuple[str, dict]:
    ids = [world["submission"].pk]
    return "/admin/recognizer/submission/", {
        "action": "relabel_selected",
        "_selected_action": ids,
        "apply": "Relabel",
        "label": "3",
    }


def _exclude(world: dict) -> tuple[str, dict]:
    submission_feedback(submission_id=world["submission"].pk, label=1, by=world["staff"])
    ids = [world["submission"].pk]
    return "/admin/recognizer/submission/", {
        "action": "exclude_from_training",
        "_selected_action": ids,
    }


def _roll_back(world: dict) -> tuple[str, dict]:
    version_activate(version=2, activated_by=world["staff"], reason="to roll back from")
    return "/admin/training/modelversion/rollback/", {}


ADMIN_FORMS = {
    "retrain": lambda world: (
        "/admin/training/trainingjob/add/",
        {"preset": "quick", "include_feedback": "on"},
    ),
    "activate (confirm)": lambda world: (
        f"/admin/training/modelversion/{world['version'].pk}/activate/",
        {"reason": "CSRF"},
    ),
    "roll back (confirm)": _roll_back,
    "relabel": _relabel,
    "exclude from training": _exclude,
    "cancel a training job": lambda world: (
        f"/admin/training/trainingjob/{world['job'].pk}/cancel/",
        {},
    ),
    "add an API token": lambda world: (
        "/admin/authtoken/tokenproxy/add/",
        {"user": world["staff"].pk},
    ),
    "log out": lambda world: ("/admin/logout/", {}),
}


@pytest.mark.parametrize("form", ADMIN_FORMS)
def test_an_admin_form_is_taken_only_with_the_csrf_token(world, form):
    staff = browser(world["staff"])
    url, data = ADMIN_FORMS[form](world)
    token = staff.cookies["csrftoken"].value
    before = state()

    refused = staff.post(url, data, headers=SITE)
    unchanged = state()
    answered = staff.post(url, {**data, "csrfmiddlewaretoken": token}, headers=SITE)

    assert refused.status_code == 403 and b"CSRF" in refused.content
    assert unchanged == before
    assert answered.status_code in (200, 302)
    assert state() != before
    REFUSED["admin forms"].add(form)
    ACCEPTED.add(form)


def test_the_login_form_is_taken_only_with_the_csrf_token(active_model, django_user_model):
    django_user_model.objects.create_user(
        username="staff", password="a long password 7", is_staff=True
    )
    visitor = browser()
    login = {"username": "staff", "password": "a long password 7", "next": "/admin/"}
    before = state()

    refused = visitor.post("/admin/login/", login, headers=SITE)
    unchanged = state()
    token = visitor.cookies["csrftoken"].value
    answered = visitor.post("/admin/login/", {**login, "csrfmiddlewaretoken": token}, headers=SITE)

    assert refused.status_code == 403 and unchanged == before
    assert answered.status_code == 302 and state() != before
    REFUSED["admin forms"].add("log in")
    ACCEPTED.add("log in")


def admin_urls() -> list[str]:
    """Every admin URL, with 1 for each id."""

    def walk(patterns, prefix="/admin/"):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    urls = []
    for route in walk(admin.site.get_urls()):
        if route.startswith("/admin/^"):  # the app index, by a regular expression
            route = "/admin/training/"
        elif route.endswith("(?P<url>.*)$"):  # anything else
            route = "/admin/no/such/page/"
        urls.append(re.sub(r"<(?:\w+:)?\w+>", "1", route))
    return urls


def test_every_admin_url_refuses_a_post_without_the_csrf_token(world):
    staff = browser(world["staff"])
    before = state()

    answers = {
        url: staff.post(url, {"action": "delete_selected"}, headers=SITE) for url in admin_urls()
    }

    assert [url for url, answer in answers.items() if answer.status_code != 403] == []
    assert all(b"CSRF verification failed" in answer.content for answer in answers.values())
    assert state() == before
    REFUSED["admin urls"] = set(answers)


def test_the_csrf_figure_is_recorded():
    assert REFUSED["api"] == {f"staff {route}" for route in API_WRITES} | {
        f"visitor {route}" for route in VISITOR_WRITES
    }, "run the whole module"
    assert REFUSED["admin forms"] == {*ADMIN_FORMS, "log in"} and REFUSED["admin urls"]
    refused = sum(len(kind) for kind in REFUSED.values())
    record(
        "security-1",
        title="CSRF on the API's session writes and the admin",
        command="make test ARGS='tests/security/test_csrf.py'",
        outcome=f"{refused} POSTs without the CSRF token refused with 403, 0 changed anything; "
        f"{len(ACCEPTED)} accepted with the token from the cookie",
        api_write_routes=len(API_WRITES),
        api_session_writes_refused=len(REFUSED["api"]),
        admin_forms_refused=len(REFUSED["admin forms"]),
        admin_urls_refused=len(REFUSED["admin urls"]),
        accepted_with_token=len(ACCEPTED),
    )
