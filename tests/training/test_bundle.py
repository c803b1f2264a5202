"""The model that ships with the code: a real, trained model (training/bundled/)."""

import shutil
from io import StringIO

import pytest
from django.core.management import call_command

from training.bundle import BUNDLE_DIR, bundled_metadata, bundled_model_install
from training.ml.artifacts import ArtifactError, artifact_load, compiled_read
from training.ml.datasets import load_mnist
from training.ml.evaluation import evaluate_model
from training.ml.pendigits import canvas_score, read_pendigits
from training.models import ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def model_store(settings, tmp_path):
    settings.MODEL_STORE_DIR = tmp_path / "models"
    return settings.MODEL_STORE_DIR


def test_a_fresh_installation_gets_the_bundled_model_as_active_version_1(model_store):
    version = bundled_model_install()

    metadata = bundled_metadata()
    assert version.version == 1 and version.is_active
    assert version.test_accuracy == metadata["mnist_test"]["accuracy"]
    assert version.artifact_sha256 == metadata["sha256"]
    assert version.activations.get().reason == "bundled model on a fresh installation"
    assert (model_store / version.artifact_path).is_file()
    assert version.compiled_sha256 == metadata["compiled_sha256"]
    assert (model_store / version.compiled_path).suffix == ".tflite"


def test_an_installation_with_versions_is_left_alone(model_store):
    bundled_model_install()

    assert bundled_model_install() is None
    assert ModelVersion.objects.count() == 1


def test_a_damaged_bundled_file_registers_nothing(model_store, tmp_path):
    damaged = tmp_path / "bundle"
    shutil.copytree(BUNDLE_DIR, damaged)
    model_file = damaged / bundled_metadata()["file"]
    data = bytearray(model_file.read_bytes())
    data[100] ^= 0xFF
    model_file.write_bytes(bytes(data))

    with pytest.raises(ArtifactError):
        bundled_model_install(damaged)

    assert ModelVersion.objects.count() == 0


def test_the_bundled_model_recognises_mnist_digits_as_its_metadata_says(model_store, mnist_cache):
    version = bundled_model_install()
    model = artifact_load(model_store / version.artifact_path, version.artifact_sha256)
    data = load_mnist(mnist_cache)

    evaluation = evaluate_model(model, data.x_test / 255.0, data.y_test)

    assert evaluation.accuracy == pytest.approx(version.test_accuracy, abs=1e-4)
    assert evaluation.accuracy >= 0.995


def test_ensure_bundled_model_command_says_what_it_did(model_store):
    first, second = StringIO(), StringIO()

    call_command("ensure_bundled_model", stdout=first)
    call_command("ensure_bundled_model", stdout=second)

    assert "Registered the bundled model as v1" in first.getvalue()
    assert "already has versions" in second.getvalue()


def test_compile_models_gives_an_older_version_its_compiled_file(model_store):
    version = bundled_model_install()
    ModelVersion.objects.update(compiled_path="", compiled_sha256="")  # as registered before
    out = StringIO()

    call_command("compile_models", stdout=out)

    version.refresh_from_db()
    assert f"Compiled v1: {version.compiled_path}" in out.getvalue()
    assert compiled_read(model_store / version.compiled_path, version.compiled_sha256)
    again = StringIO()
    call_command("compile_models", stdout=again)
    assert again.getvalue().strip() == "Every model version has its compiled file."


def test_the_bundled_model_reads_the_held_out_writers_as_its_metadata_says(
    model_store, pendigits_dir
):
    version = bundled_model_install()
    model = artifact_load(model_store / version.artifact_path, version.artifact_sha256)
    canvas = read_pendigits(pendigits_dir).canvas_set

    score = canvas_score(model, canvas)

    assert version.canvas_accuracy == bundled_metadata()["canvas"]["accuracy"]
    assert version.canvas_set_sha256 == bundled_metadata()["canvas"]["set_sha256"]
    # Another machine may draw a pixel differently (the set's sha256 then
    # differs); the score may not move by more than a few drawings.
    assert score.accuracy == pytest.approx(version.canvas_accuracy, abs=0.002)
    assert score.accuracy >= 0.99
    assert version.dataset_fingerprint["pendigits"]["copies"] == 2
