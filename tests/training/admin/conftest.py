"""What the training admin's tests share: staff, two versions with
pictures, canvas scores, and data-source probes that never touch the network."""

import re

import numpy as np
import pytest
from django.core.cache import cache

from tests.conftest import HttpsClient
from training import selectors
from training.models import ModelVersion, TrainingJob
from training.services import labelled_sample_create

METRICS = [
    {"epoch": 1, "member": 1, "loss": 0.30, "accuracy": 0.91, "val_loss": 0.12,
     "val_accuracy": 0.965, "seconds": 21.0},
    {"epoch": 2, "member": 1, "loss": 0.09, "accuracy": 0.972, "val_loss": 0.06,
     "val_accuracy": 0.981, "seconds": 20.5},
]  # fmt: skip


# The canvas set versions are scored on in these tests, and another one.
CANVAS_SET, OTHER_CANVAS_SET = "c" * 64, "d" * 64


@pytest.fixture(autouse=True)
def data_sources(monkeypatch) -> dict[str, str | None]:
    """What the MNIST and pen-drawn digit probes answer (None: found); never
    the network. A test sets an entry to make that source unavailable."""
    answers: dict[str, str | None] = {"mnist": None, "pendigits": None}
    monkeypatch.setattr(selectors, "mnist_probe", lambda *args, **kwargs: answers["mnist"])
    monkeypatch.setattr(selectors, "pendigits_probe", lambda *args, **kwargs: answers["pendigits"])
    cache.delete(selectors._DATA_SOURCES_CACHE_KEY)
    return answers


def canvas_confusion() -> list[list[int]]:
    """140 right of each digit, and nine 7s read as 1: 1,409 drawings."""
    matrix = (np.eye(10, dtype=int) * 140).tolist()
    matrix[7][1] = 9
    return matrix


def give_canvas_score(
    version: ModelVersion, accuracy: float, per_class: list[float], on: str = CANVAS_SET
) -> None:
    ModelVersion.objects.filter(pk=version.pk).update(
        canvas_accuracy=accuracy, canvas_per_class_accuracy=per_class,
        canvas_confusion_matrix=canvas_confusion(), canvas_set_sha256=on,
    )  # fmt: skip
    version.refresh_from_db()


def take_canvas_score(version: ModelVersion) -> None:
    """As a version trained without the pen-drawn digits (the bundle has a score)."""
    ModelVersion.objects.filter(pk=version.pk).update(
        canvas_accuracy=None, canvas_per_class_accuracy=[], canvas_confusion_matrix=[],
        canvas_set_sha256="",
    )  # fmt: skip
    version.refresh_from_db()


def field(page: str, name: str) -> list[str]:
    """The changelist cells of one column, top to bottom."""
    return re.findall(rf'<t[dh] class="field-{name}">(?:<a href="[^"]*">)?([^<]*)', page)


@pytest.fixture
def staff(admin_user) -> HttpsClient:
    client = HttpsClient()
    client.force_login(admin_user)
    return client


@pytest.fixture
def versions(active_model) -> tuple[ModelVersion, ModelVersion]:
    job = TrainingJob.objects.create(preset="quick", status="succeeded", metrics=METRICS,
                                     epoch=2, epochs=2, log="12:00:00 started\n")  # fmt: skip
    second = ModelVersion.objects.create(
        version=2, architecture="cnn_small", artifact_path=active_model.artifact_path,
        artifact_sha256=active_model.artifact_sha256, test_accuracy=0.9901, test_loss=0.03,
        per_class_accuracy=[0.99] * 9 + [0.95], confusion_matrix=np.eye(10, dtype=int).tolist(),
        training_job=job,
    )  # fmt: skip
    for label, predicted in [(1, 1), (7, 1), (3, 3)]:
        labelled_sample_create(
            image=np.full((28, 28), 9, np.uint8), label=label, source="feedback",
            model_version=active_model, predicted_digit=predicted,
        )  # fmt: skip
    return active_model, second
