"""Model versions over the API: metrics, live accuracy from feedback,
activation by staff, the active version's public facts."""

import base64

import pytest
import yaml

from recognizer.models import Submission
from tests.conftest import HttpsClient
from tests.harness.canvas import ONE, canvas_png
from training.models import ModelActivation, ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(admin_user) -> HttpsClient:
    client = HttpsClient()
    client.force_login(admin_user)
    return client


def give_feedback(client: HttpsClient, labels: list[int]) -> None:
    client.get("/")
    image = base64.b64encode(canvas_png(ONE)).decode()
    for label in labels:
        prediction = client.post(
            "/api/v1/predictions/", {"image": image}, content_type="application/json"
        ).json()
        client.post(
            f"/api/v1/predictions/{prediction['id']}/feedback/", {"label": label},
            content_type="application/json",
        )  # fmt: skip


def test_a_version_shows_its_metrics_and_live_accuracy(active_model, staff):
    give_feedback(HttpsClient(), [1, 1, 1, 7])  # the model says 1 each time

    version = staff.get("/api/v1/models/1/").json()

    assert version["is_active"] is True and version["test_accuracy"] == active_model.test_accuracy
    assert len(version["per_class_accuracy"]) == 10
    assert len(version["confusion_matrix"]) == 10
    assert version["live_accuracy"] == pytest.approx(0.75)
    assert version["live_accuracy_count"] == 4
    assert Submission.objects.count() == 4


def test_anyone_may_read_the_active_version_but_not_the_others(active_model, client):
    ModelVersion.objects.create(version=2, architecture="cnn_small")

    active = client.get("/api/v1/models/active/")
    by_number = client.get("/api/v1/models/1/")
    other = client.get("/api/v1/models/2/")

    assert active.status_code == 200 and active.json()["version"] == 1
    assert by_number.status_code == 200
    assert other.status_code == 401


def test_staff_activate_a_version_and_the_history_records_it(active_model, staff, admin_user):
    ModelVersion.objects.create(
        version=2, architecture=active_model.architecture,
        artifact_path=active_model.artifact_path, artifact_sha256=active_model.artifact_sha256,
    )  # fmt: skip

    response = staff.post("/api/v1/models/2/activate/", {"reason": "compare"},
                          content_type="application/json")  # fmt: skip

    assert response.status_code == 200 and response.json()["is_active"] is True
    assert ModelVersion.objects.get(is_active=True).version == 2
    activation = ModelActivation.objects.first()
    assert (activation.activated_by, activation.reason) == (admin_user, "compare")
    assert staff.post("/api/v1/models/9/activate/").status_code == 404


def test_predicting_with_a_chosen_version_needs_a_token_or_staff(active_model, client, staff):
    image = base64.b64encode(canvas_png(ONE)).decode()
    url = "/api/v1/predictions/?model_version=1"

    anonymous = client.post(url, {"image": image}, content_type="application/json")
    chosen = staff.post(url, {"image": image}, content_type="application/json")
    unknown = staff.post(url.replace("=1", "=5"), {"image": image}, content_type="application/json")

    assert anonymous.status_code == 403
    assert chosen.status_code == 201 and chosen.json()["model_version"] == 1
    assert unknown.status_code == 404
    assert Submission.objects.count() == 1


def test_a_version_shows_its_canvas_score(active_model, staff):
    confusion = [[140 if i == j else 0 for j in range(10)] for i in range(10)]
    confusion[7][1] = 9
    ModelVersion.objects.create(
        version=2, architecture="cnn_small", canvas_accuracy=0.9713,
        canvas_per_class_accuracy=[0.97] * 10, canvas_confusion_matrix=confusion,
        canvas_set_sha256="c" * 64,
        dataset_fingerprint={"feedback_samples": 0, "pendigits": {"copies": 2, "samples": 11990}},
    )  # fmt: skip

    version = staff.get("/api/v1/models/2/").json()

    assert version["canvas_accuracy"] == 0.9713
    assert version["canvas_per_class_accuracy"] == [0.97] * 10
    assert version["canvas_confusion_matrix"][7][1] == 9
    assert version["canvas_set_sha256"] == "c" * 64
    assert version["dataset_fingerprint"]["pendigits"]["samples"] == 11990


def test_a_version_without_pen_drawn_digits_has_a_null_canvas_score(active_model, client):
    ModelVersion.objects.filter(pk=active_model.pk).update(  # as if trained on MNIST alone
        canvas_accuracy=None, canvas_per_class_accuracy=[], canvas_confusion_matrix=[],
        canvas_set_sha256="",
    )  # fmt: skip

    version = client.get("/api/v1/models/active/").json()

    assert version["canvas_accuracy"] is None
    assert version["canvas_per_class_accuracy"] == []
    assert version["canvas_confusion_matrix"] == []
    assert version["canvas_set_sha256"] == ""


def test_the_schema_says_what_the_canvas_score_is(client):
    schema = yaml.safe_load(client.get("/api/v1/schema/").content)

    fields = schema["components"]["schemas"]["ModelVersion"]["properties"]
    assert fields["canvas_accuracy"]["nullable"] is True
    assert "held-out writers' pen-drawn digits" in fields["canvas_accuracy"]["description"]
    assert "Null when the job had no pen-drawn digits" in fields["canvas_accuracy"]["description"]
    assert "canvas" in fields["canvas_set_sha256"]["description"]
    assert "pendigits" in fields["dataset_fingerprint"]["description"]
