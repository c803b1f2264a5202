import numpy as np
import pytest

from training.ml.architectures import build
from training.ml.artifacts import (
    ArtifactError,
    artifact_load,
    artifact_save,
    compiled_read,
    compiled_save,
)


@pytest.fixture(scope="module")
def small_model():
    return build("cnn_small")


def test_a_saved_model_loads_back_with_the_same_weights(small_model, tmp_path):
    artifact = artifact_save(small_model, tmp_path, stem="job1")

    loaded = artifact_load(artifact.path, artifact.sha256)

    assert artifact.path.name.startswith("job1-") and artifact.path.suffix == ".keras"
    assert artifact.size == artifact.path.stat().st_size
    for saved, original in zip(loaded.get_weights(), small_model.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, original)
    assert [p.name for p in tmp_path.iterdir()] == [artifact.path.name]  # no temp files left


def test_a_changed_file_is_refused_before_loading(small_model, tmp_path):
    artifact = artifact_save(small_model, tmp_path, stem="job2")
    data = bytearray(artifact.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.path.write_bytes(bytes(data))

    with pytest.raises(ArtifactError, match="sha256"):
        artifact_load(artifact.path, artifact.sha256)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(ArtifactError, match="missing"):
        artifact_load(tmp_path / "gone.keras", "0" * 64)


def test_an_existing_artifact_is_never_overwritten(small_model, tmp_path, monkeypatch):
    # Two saves whose contents hash alike get the same name: the second must fail.
    monkeypatch.setattr("training.ml.artifacts.sha256_file", lambda path: "ab" * 32)
    first = artifact_save(small_model, tmp_path, stem="job3")
    original = first.path.read_bytes()

    with pytest.raises(FileExistsError):
        artifact_save(small_model, tmp_path, stem="job3")

    assert first.path.read_bytes() == original
    assert len(list(tmp_path.iterdir())) == 1


def test_the_compiled_model_answers_like_the_keras_one(small_model, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    compiled = compiled_save(small_model, tmp_path, stem="job4")
    interpreter = Interpreter(model_content=compiled_read(compiled.path, compiled.sha256))
    interpreter.allocate_tensors()
    image = np.random.default_rng(0).random((1, 28, 28, 1), dtype=np.float32)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
    interpreter.invoke()

    answer = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert compiled.path.name.startswith("job4-") and compiled.path.suffix == ".tflite"
    np.testing.assert_allclose(answer, small_model(image, training=False), atol=1e-5)
    assert [p.name for p in tmp_path.iterdir()] == [compiled.path.name]


def test_changed_compiled_bytes_are_refused(small_model, tmp_path):
    compiled = compiled_save(small_model, tmp_path, stem="job5")
    compiled.path.write_bytes(compiled.path.read_bytes() + b"x")

    with pytest.raises(ArtifactError, match="sha256"):
        compiled_read(compiled.path, compiled.sha256)
    with pytest.raises(ArtifactError, match="missing"):
        compiled_read(tmp_path / "gone.tflite", compiled.sha256)
