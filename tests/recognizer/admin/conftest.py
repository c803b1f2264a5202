"""What the recognizer admin's tests share: staff, a visitor and an API client
who make predictions, and helpers to read the admin's pictures and run its actions."""

import base64
import io

import numpy as np
import pytest
from django.contrib.auth.models import Permission
from PIL import Image

from recognizer.models import Submission
from tests.conftest import HttpsClient
from tests.harness.canvas import ONE, canvas_png

CHANGELIST = "/admin/recognizer/submission/"


def predict(client: HttpsClient, strokes=ONE, *, png: bytes | None = None) -> Submission:
    image = base64.b64encode(png or canvas_png(strokes)).decode()
    response = client.post(
        "/api/v1/predictions/", {"image": image}, content_type="application/json"
    )
    assert response.status_code == 201, response.json()
    return Submission.objects.get(pk=response.json()["id"])


def predict_pixels(client: HttpsClient) -> Submission:
    pixels = np.zeros((28, 28), dtype=np.uint8)
    pixels[4:24, 13:16] = 255  # a "1", MNIST style
    response = client.post(
        "/api/v1/predictions/", {"pixels": pixels.tolist()}, content_type="application/json"
    )
    assert response.status_code == 201, response.json()
    return Submission.objects.get(pk=response.json()["id"])


def png_of(response) -> Image.Image:
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(b"".join(response)))
    assert image.format == "PNG"
    return image


def shown(response) -> list[int]:
    """The ids a changelist response lists."""
    return sorted(obj.pk for obj in response.context["cl"].result_list)


def run_action(client: HttpsClient, action: str, ids: list[int], url=CHANGELIST, **data):
    return client.post(url, {"action": action, "_selected_action": ids, **data})


@pytest.fixture
def staff(client: HttpsClient, admin_user) -> HttpsClient:
    client.force_login(admin_user)
    return client


@pytest.fixture
def visitor(active_model) -> HttpsClient:
    """A browser on the drawing page: its predictions are `web`."""
    visitor = HttpsClient()
    visitor.get("/")
    return visitor


@pytest.fixture
def api_client(active_model) -> HttpsClient:
    return HttpsClient()


def staff_user(django_user_model, username: str, *perms: str):
    user = django_user_model.objects.create_user(
        username=username, password="x" * 12, is_staff=True
    )
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    return user
