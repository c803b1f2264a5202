"""Every API route x {anonymous, token user, staff} answers as docs/api.md's
"Who may call what" table says, and every API view states its permission."""

import base64
import re
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Permission
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token

from recognizer.models import InferenceBatch, Submission
from tests.conftest import ROOT, HttpsClient
from tests.harness.canvas import ONE, canvas_png
from training.models import ModelVersion, TrainingJob

PLACEHOLDERS = {"pk": "id", "version": "version"}
ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/api/v1/\S*)` \| (.+?) \| (.+?) \| (.+?) \|$")
PERMISSION = re.compile(r"`(\w+\.\w+)`")


@dataclass(frozen=True)
class Rule:
    anonymous: str  # yes | no | own | active
    token: str  # yes | no | own: any account without `permission`
    permission: str | None  # "app.codename" that lets a caller reach everyone's


def documented_table() -> dict[tuple[str, str], Rule]:
    """(method, path) -> its rule, from docs/api.md."""
    section = (ROOT / "docs" / "api.md").read_text().split("### Who may call what", 1)[1]
    table = {}
    for line in section.split("\n### ", 1)[0].splitlines():
        match = ROW.match(line.strip())
        if match:
            method, path, anonymous, token, permission = match.groups()
            found = PERMISSION.search(permission)
            table[(method, path)] = Rule(
                anonymous.split()[0], token.split()[0], found[1] if found else None
            )
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


def test_every_api_route_is_in_the_documented_table_and_nothing_else_is():
    routes = {(method, path) for method, path, _ in api_routes()}

    assert routes == set(documented_table())


def test_every_api_view_states_its_permission():
    for method, path, view in api_routes():
        own = vars(view)
        if path.startswith(("/api/v1/schema/", "/api/v1/docs/")):
            continue  # drf-spectacular's views: public documentation
        assert "permission_classes" in own or "get_permissions" in own, (method, path)


def token_client(user) -> HttpsClient:
    return HttpsClient(headers={"Authorization": f"Token {Token.objects.create(user=user)}"})


@pytest.fixture
def world(active_model, django_user_model):
    """A token user with a prediction and a batch of their own, an inactive
    version 2 and a training job; `account(perms)` makes a staff account
    (not the owner) holding exactly `perms`."""
    owner = django_user_model.objects.create_user(username="integrator", password="x" * 12)
    clients = {"anonymous": HttpsClient(), "owner": token_client(owner)}
    image = base64.b64encode(canvas_png(ONE)).decode()
    prediction = clients["owner"].post(
        "/api/v1/predictions/", {"image": image}, content_type="application/json"
    )
    batch = clients["owner"].post(
        "/api/v1/batches/", {"items": [{"image": image}]}, content_type="application/json"
    )
    inactive = ModelVersion.objects.create(
        version=2, architecture="cnn_small", artifact_path=active_model.artifact_path,
        artifact_sha256=active_model.artifact_sha256,
    )  # fmt: skip
    job = TrainingJob.objects.create(preset="quick", params={})

    def account(perms: set[str]) -> HttpsClient:
        user = django_user_model.objects.create_user(
            username=f"staff-{django_user_model.objects.count()}", password="x" * 12, is_staff=True
        )
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        return token_client(user)

    return {
        "clients": clients,
        "account": account,
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


# Lists answer 200 to everyone allowed to list; whether the owner's object is
# in them says whether the caller reaches everyone's.
OWNER_LISTED = {"/api/v1/predictions/": "prediction", "/api/v1/batches/": "batch"}


def outcome(response, method: str, path: str, world: dict) -> str:
    """refused (401/403), hidden (404, or a list without the owner's object),
    or reached."""
    if response.status_code in (401, 403):
        return "refused"
    if response.status_code == 404:
        return "hidden"
    if method == "GET" and path in OWNER_LISTED:
        listed = {row["id"] for row in response.json()["results"]}
        return "reached" if world["ids"][OWNER_LISTED[path]] in listed else "hidden"
    return "reached"


# What a caller who is not the owner of the objects gets, by the table's word.
NOT_THE_OWNER = {"yes": {"reached"}, "no": {"refused"}, "own": {"refused", "hidden"}}


@pytest.mark.django_db
def test_each_caller_gets_what_the_documented_table_says(world):
    """Anonymous; the owner (a token user without permissions); a staff
    account without permissions; for each permission in the table, a staff
    account with only it, and one with every other permission but it."""
    table = documented_table()
    permissions = {rule.permission for rule in table.values()} - {None}
    mismatches = []

    def check(who: str, client, method: str, path: str, expected: set[str], version="inactive"):
        got = outcome(call(client, method, path, world, version=version), method, path, world)
        if got not in expected:
            mismatches.append((method, path, version, who, got, sorted(expected)))

    no_permissions = world["account"](set())
    for (method, path), rule in table.items():
        if rule.anonymous == "active":
            check("anonymous", world["clients"]["anonymous"], method, path, {"reached"}, "active")
            check("anonymous", world["clients"]["anonymous"], method, path, {"refused"})
        else:
            check("anonymous", world["clients"]["anonymous"], method, path,
                  NOT_THE_OWNER[rule.anonymous])  # fmt: skip
        owner_gets = {"refused"} if rule.token == "no" else {"reached"}
        check("owner", world["clients"]["owner"], method, path, owner_gets)
        check("staff, no permissions", no_permissions, method, path, NOT_THE_OWNER[rule.token])
        if rule.permission:
            only = world["account"]({rule.permission})
            check(f"only {rule.permission}", only, method, path, {"reached"})
            others = world["account"](permissions - {rule.permission})
            check(f"all but {rule.permission}", others, method, path, NOT_THE_OWNER[rule.token])
    assert not mismatches, "\n".join(map(str, mismatches))


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
