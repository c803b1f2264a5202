"""The API's own body limits are the ones that hold: a JSON batch or a
base64 image bigger than Django's in-memory cap on request bodies (2.5 MB)
is taken up to PREDICTION_MAX_IMAGE_BYTES / BATCH_MAX_UPLOAD_BYTES, and
every other route keeps Django's cap, answered as a JSON 413."""

import base64
import json

import pytest
from django.conf import settings as django_settings
from rest_framework.authtoken.models import Token

from recognizer.models import InferenceBatch, Submission
from recognizer.submission_store import image_read
from tests.conftest import HttpsClient
from tests.harness.canvas import ONE, canvas_png
from tests.security.hostile_cases import INK
from tests.security.payloads import png_with_chunk
from training.models import ModelActivation, TrainingJob

pytestmark = pytest.mark.django_db

OVER_DJANGOS_CAP = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 500_000


def png_padded_to(size: int) -> bytes:
    """A real drawing, made `size` bytes long by a private ancillary chunk
    (as metadata does); decoders skip it."""
    png = canvas_png(ONE)
    return png_with_chunk(png, b"prVt", bytes(size - len(png) - 12))


def staff_client(django_user_model) -> HttpsClient:
    staff = django_user_model.objects.create_user(
        username="staff", is_staff=True, is_superuser=True
    )
    return HttpsClient(headers={"Authorization": f"Token {Token.objects.create(user=staff)}"})


def test_a_json_batch_bigger_than_djangos_cap_is_accepted(active_model, django_user_model):
    items = [{"pixels": INK, "ref": f"item-{index}"} for index in range(2000)]
    body = {"items": items}

    response = staff_client(django_user_model).post(
        "/api/v1/batches/", body, content_type="application/json"
    )

    assert len(json.dumps(body)) > django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert response.status_code == 202, response.json()
    assert InferenceBatch.objects.get().total == 2000


def test_a_base64_image_bigger_than_djangos_cap_is_recognised(client, active_model):
    image = png_padded_to(OVER_DJANGOS_CAP)

    response = client.post(
        "/api/v1/predictions/",
        {"image": base64.b64encode(image).decode()},
        content_type="application/json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["digit"] == 1
    assert image_read(Submission.objects.get().image.name) == image


@pytest.mark.parametrize("path", ["/api/v1/training-jobs/", "/api/v1/models/1/activate/"])
def test_other_routes_keep_djangos_cap_as_a_json_413(active_model, django_user_model, path):
    activations = ModelActivation.objects.count()
    body = {"preset": "quick", "reason": "x" * OVER_DJANGOS_CAP}

    response = staff_client(django_user_model).post(path, body, content_type="application/json")

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert not TrainingJob.objects.exists()
    assert ModelActivation.objects.count() == activations
