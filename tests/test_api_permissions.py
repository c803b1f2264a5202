"""Every API route x {anonymous, token user, staff} answers as the README's
"Who may call what" table says, and every API view states its permission."""

import base64
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token

from recognizer.models import InferenceBatch, Submission
from tests.conftest import ROOT, HttpsClient
from tests.recognizer.conftest import ONE, drawing_png
from training.models import ModelVersion, TrainingJob

ROLES = ("anonymous", "token", "staff")
PLACEHOLDERS = {"pk": "id", "version": "version"}
ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/api/v1/\S*)` \| (.+?) \| (.+?) \| (.+?) \|$")


def readme_table() -> dict[tuple[str, str], dict[str, str]]:
    """(method, path) -> {role: yes | no | own | active}, from the README."""
    section = (ROOT / "README.md").read_text().split("### Who may call what", 1)[1]
    table = {}
    for line in section.split("\n### ", 1)[0].splitlines():
        match = ROW.match(line.strip())
        if match:
            method, path, *cells = match.groups()
            table[(method, path)] = {
                role: cell.split()[0] for role, cell in zip(ROLES, cells, strict=True)
            }
    return table


def api_routes() -> list[tuple[str, str, type]]:
    """(method, path with {placeholders}, view class) for every API route."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern.callback

    routes = []
    for route, callback in walk(get_resolver().url_patterns):
        if not route.startswith("api/"):
            continue
        view = callback.view_class if hasattr(callback, "view_class") else callback.cls
        path = "/" + re.sub(
            r"<int:(\w+)>", lambda m: "{" + {"pk": "id"}.get(m[1], m[1]) + "}", route
        )
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(view, method):
                routes.append((method.upper(), path, view))
    return routes


def test_every_api_route_is_in_the_readme_table_and_nothing_else_is():
    routes = {(method, path) for method, path, _ in api_routes()}

    assert routes == set(readme_table())


def test_every_api_view_states_its_permission():
    for method, path, view in api_routes():
        own = vars(view)
        if path.startswith(("/api/v1/schema/", "/api/v1/docs/")):
            continue  # drf-spectacular's views: public documentation
        assert "permission_classes" in own or "get_permissions" in own, (method, path)


@pytest.fixture
def world(active_model, django_user_model):
    """A token user with a prediction and a batch of their own, a staff user,
    an inactive version 2 and a training job."""
    user = django_user_model.objects.create_user(username="integrator", password="x" * 12)
    staff = django_user_model.objects.create_user(
        username="staff", password="x" * 12, is_staff=True
    )
    clients = {
        "anonymous": HttpsClient(),
        "token": HttpsClient(headers={"Authorization": f"Token {Token.objects.create(user=user)}"}),
        "staff": HttpsClient(
            headers={"Authorization": f"Token {Token.objects.create(user=staff)}"}
        ),
    }
    image = base64.b64encode(drawing_png(ONE)).decode()
    prediction = clients["token"].post(
        "/api/v1/predictions/", {"image": image}, content_type="application/json"
    )
    batch = clients["token"].post(
        "/api/v1/batches/", {"items": [{"image": image}]}, content_type="application/json"
    )
    inactive = ModelVersion.objects.create(
        version=2, architecture="cnn_small", artifact_path=active_model.artifact_path,
        artifact_sha256=active_model.artifact_sha256,
    )  # fmt: skip
    job = TrainingJob.objects.create(preset="quick", params={})
    return {
        "clients": clients,
        "ids": {
            "prediction": prediction.json()["id"],
            "batch": batch.json()["id"],
            "job": job.pk,
            "active": active_model.version,
            "inactive": inactive.version,
        },
        "image": image,
    }


def call(client, method: str, path: str, world: dict, *, version: str):
    """One request on `path` with ids that exist; a valid body for writes."""
    ids = world["ids"]
    if path.startswith("/api/v1/predictions/{id}"):
        path = path.replace("{id}", str(ids["prediction"]))
    elif path.startswith("/api/v1/batches/{id}"):
        path = path.replace("{id}", str(ids["batch"]))
    elif path.startswith("/api/v1/training-jobs/{id}"):
        path = path.replace("{id}", str(ids["job"]))
    path = path.replace("{version}", str(ids[version]))
    bodies = {
        "/api/v1/predictions/": {"image": world["image"]},
        "/api/v1/batches/": {"items": [{"image": world["image"]}]},
        "/api/v1/training-jobs/": {"preset": "quick"},
        f"/api/v1/predictions/{ids['prediction']}/feedback/": {"label": 1},
    }
    if method == "GET":
        return client.get(path)
    return client.post(path, bodies.get(path, {}), content_type="application/json")


@pytest.mark.django_db
def test_each_caller_gets_what_the_readme_table_says(world):
    table = readme_table()
    mismatches = []
    for (method, path), rules in table.items():
        for role in ROLES:
            rule = rules[role]
            # "active": allowed on the active version and refused on another.
            versions = ["active", "inactive"] if rule == "active" else ["inactive"]
            for version in versions:
                response = call(world["clients"][role], method, path, world, version=version)
                allowed = response.status_code not in (401, 403)
                expected = rule in ("yes", "own") or (rule == "active" and version == "active")
                if role == "anonymous" and rule == "own":
                    # Anonymous feedback is theirs only through the browser
                    # session that made the prediction; this one was a token's.
                    expected = False
                if allowed != expected:
                    mismatches.append((method, path, role, version, response.status_code))
    assert not mismatches, mismatches


@pytest.mark.django_db
def test_a_token_user_cannot_reach_another_user_s_objects(world, django_user_model):
    other = django_user_model.objects.create_user(username="other", password="x" * 12)
    client = HttpsClient(headers={"Authorization": f"Token {Token.objects.create(user=other)}"})
    ids = world["ids"]

    feedback = client.post(
        f"/api/v1/predictions/{ids['prediction']}/feedback/", {"label": 1},
        content_type="application/json",
    )  # fmt: skip
    batch = client.get(f"/api/v1/batches/{ids['batch']}/")
    listing = client.get("/api/v1/predictions/")

    assert feedback.status_code == 403
    assert batch.status_code == 404
    assert listing.json()["count"] == 0
    assert Submission.objects.get(pk=ids["prediction"]).feedback_label is None
    assert InferenceBatch.objects.get(pk=ids["batch"]).status == "queued"
