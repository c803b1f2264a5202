from pathlib import Path

import pytest

from training.ml.artifacts import Artifact
from training.ml.evaluation import Evaluation
from training.models import ModelActivation, ModelVersion
from training.selectors import active_version
from training.services import version_activate, version_register, version_rollback
from training.services.registry import RegistryError

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def model_store(settings, tmp_path) -> Path:
    settings.MODEL_STORE_DIR = tmp_path
    return tmp_path


def _register(store: Path, accuracy: float) -> ModelVersion:
    path = store / f"m{accuracy}.keras"
    path.write_bytes(b"weights")
    return version_register(
        artifact=Artifact(path=path, size=7, sha256="0" * 64),
        architecture="cnn_small",
        parameter_count=10,
        evaluation=Evaluation(
            accuracy=accuracy,
            loss=0.1,
            per_class_accuracy=[accuracy] * 10,
            confusion_matrix=[[0] * 10 for _ in range(10)],
            count=10000,
        ),
        dataset_fingerprint={"mnist": {}, "feedback_samples": 0},
    )


def test_versions_are_numbered_one_after_another(model_store):
    assert [_register(model_store, a).version for a in (0.98, 0.97, 0.99)] == [1, 2, 3]


def test_auto_policy_activates_the_first_and_then_only_better_versions(model_store, settings):
    settings.TRAINING_ACTIVATION_POLICY = "auto"

    _register(model_store, 0.98)
    assert active_version().version == 1
    _register(model_store, 0.97)
    assert active_version().version == 1
    _register(model_store, 0.99)
    assert active_version().version == 3
    assert ModelVersion.objects.filter(is_active=True).count() == 1


def test_manual_policy_never_activates_by_itself(model_store, settings):
    settings.TRAINING_ACTIVATION_POLICY = "manual"

    _register(model_store, 0.99)

    assert active_version() is None


def test_activation_is_recorded_and_rollback_returns_to_the_previous_version(
    model_store, settings, django_user_model
):
    settings.TRAINING_ACTIVATION_POLICY = "manual"
    staff = django_user_model.objects.create_user("staff", is_staff=True)
    for accuracy in (0.98, 0.99, 0.985):
        _register(model_store, accuracy)

    version_activate(version=1, activated_by=staff)
    version_activate(version=3, activated_by=staff)
    rolled_back = version_rollback(activated_by=staff)

    assert rolled_back.version == 1
    assert active_version().version == 1
    history = list(
        ModelActivation.objects.values_list("version__version", "previous_version__version")
    )
    assert history == [(1, 3), (3, 1), (1, None)]
    assert ModelActivation.objects.first().activated_by == staff


def test_rollback_without_an_earlier_version_is_refused(model_store):
    with pytest.raises(RegistryError):
        version_rollback()


def test_activating_the_active_version_records_nothing_new(model_store, settings):
    settings.TRAINING_ACTIVATION_POLICY = "manual"
    _register(model_store, 0.98)
    version_activate(version=1)

    version_activate(version=1)

    assert ModelActivation.objects.count() == 1
