import pytest
from django.db import IntegrityError, transaction

from training.models import ModelVersion, TrainingJob
from training.selectors import active_version

pytestmark = pytest.mark.django_db


def test_database_refuses_a_second_active_model_version():
    ModelVersion.objects.create(version=1, architecture="cnn", is_active=True)

    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(version=2, architecture="cnn", is_active=True)


def test_many_inactive_versions_are_allowed_and_none_is_active():
    ModelVersion.objects.create(version=1, architecture="cnn")
    ModelVersion.objects.create(version=2, architecture="cnn")

    assert active_version() is None


def test_active_version_is_the_one_marked_active():
    ModelVersion.objects.create(version=1, architecture="cnn")
    ModelVersion.objects.create(version=2, architecture="cnn", is_active=True)

    assert active_version().version == 2


def test_database_refuses_an_unknown_job_status():
    with pytest.raises(IntegrityError), transaction.atomic():
        TrainingJob.objects.create(status="exploded")


@pytest.mark.parametrize(
    ("path", "sha256"), [("v9.tflite", ""), ("", "ab" * 32)], ids=["no sha256", "no path"]
)
def test_database_refuses_half_a_compiled_model(path, sha256):
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(
            version=9, architecture="cnn", compiled_path=path, compiled_sha256=sha256
        )
