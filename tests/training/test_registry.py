from pathlib import Path

import pytest

from training.ml.artifacts import Artifact
from training.ml.evaluation import Evaluation
from training.ml.pendigits import CanvasScore
from training.models import ModelActivation, ModelVersion
from training.selectors import active_version
from training.services import version_activate, version_register, version_rollback
from training.services.registry import RegistryError, auto_activation_verdict

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def model_store(settings, tmp_path) -> Path:
    settings.MODEL_STORE_DIR = tmp_path
    return tmp_path


def _register(
    store: Path, accuracy: float, canvas: float | None = None, canvas_set: str = "a" * 64
) -> ModelVersion:
    path = store / f"m{accuracy}-{canvas}.keras"
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
        canvas=None
        if canvas is None
        else CanvasScore(
            accuracy=canvas,
            per_class_accuracy=[canvas] * 10,
            confusion_matrix=[[0] * 10 for _ in range(10)],
            set_sha256=canvas_set,
        ),
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


def test_auto_policy_refuses_a_version_better_on_mnist_but_worse_on_the_canvas(
    model_store, settings
):
    settings.TRAINING_ACTIVATION_POLICY = "auto"
    settings.TRAINING_ACTIVATION_CANVAS_MARGIN = 0.003
    _register(model_store, 0.990, canvas=0.990)

    _register(model_store, 0.995, canvas=0.986)  # 0.4 points worse on the canvas
    assert active_version().version == 1
    _register(model_store, 0.995, canvas=0.988)  # 0.2 points: within the margin
    assert active_version().version == 3
    reason = ModelActivation.objects.first().reason
    assert "test accuracy 99.50% against v1's 99.00%" in reason
    assert "canvas accuracy 98.80% against 99.00%" in reason


def test_auto_verdicts_without_comparable_canvas_scores(model_store, settings):
    settings.TRAINING_ACTIVATION_POLICY = "manual"
    scored = _register(model_store, 0.990, canvas=0.990)
    unscored = _register(model_store, 0.991)
    other_set = _register(model_store, 0.992, canvas=0.999, canvas_set="b" * 64)
    better = _register(model_store, 0.993, canvas=0.995)

    assert auto_activation_verdict(scored, None) == (True, "auto: first model")
    activate, why = auto_activation_verdict(unscored, scored)
    assert not activate and "no canvas score while v1 has 99.00%" in why
    activate, why = auto_activation_verdict(other_set, scored)
    assert not activate and "another canvas set" in why
    activate, why = auto_activation_verdict(scored, unscored)
    assert not activate and "test accuracy 99.00% against v2's 99.10%" in why
    activate, why = auto_activation_verdict(better, unscored)
    assert activate and "v2 has no canvas score" in why
    assert auto_activation_verdict(better, scored)[0]


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


def test_an_active_version_scored_on_another_canvas_set_is_scored_on_this_one_first(
    settings, tmp_path, mnist_cache
):
    """The canvas set as this machine draws it may differ from the one a
    version was scored on; auto activation compares the two on one set."""
    import numpy as np

    from training.bundle import bundled_model_install
    from training.ml.datasets import load_mnist
    from training.ml.pendigits import CanvasSet
    from training.services.registry import version_auto_activate

    settings.MODEL_STORE_DIR = tmp_path
    settings.TRAINING_ACTIVATION_POLICY = "auto"
    bundled = bundled_model_install()
    ModelVersion.objects.filter(pk=bundled.pk).update(
        canvas_accuracy=0.5, canvas_set_sha256="a" * 64, test_accuracy=0.9
    )
    mnist = load_mnist(mnist_cache)
    here = CanvasSet(images=mnist.x_test[:300], labels=mnist.y_test[:300], sha256="c" * 64)
    new = _register(tmp_path, 0.95, canvas=0.2, canvas_set="c" * 64)

    verdict = version_auto_activate(new, canvas=here)

    bundled.refresh_from_db()
    assert bundled.canvas_set_sha256 == "c" * 64
    assert bundled.canvas_accuracy > 0.95  # the bundled model reads these MNIST digits
    assert sum(map(sum, bundled.canvas_confusion_matrix)) == 300
    assert verdict.startswith("v1 scored on this canvas set first: ")
    assert "(on its own: 50.00%); auto: not activated" in verdict
    assert "more than 0.30% worse" in verdict
    assert active_version().pk == bundled.pk
    assert np.isclose(new.canvas_accuracy, 0.2)
