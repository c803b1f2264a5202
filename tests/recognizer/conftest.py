import io
from collections.abc import Iterator

import pytest
from PIL import Image, ImageDraw

from recognizer import predictor as predictor_module
from recognizer.predictor import LoadedModel, ModelRef, load_model, reset_predictor
from training.bundle import bundled_model_install
from training.models import ModelVersion

# The bundled model's traced inference, loaded once per test session: every
# test installs it afresh (new rows), but the file and so the model are the same.
_loaded_by_sha: dict[str, LoadedModel] = {}


def cached_load(ref: ModelRef, **kwargs: object) -> LoadedModel:
    if ref.artifact_sha256 not in _loaded_by_sha:
        _loaded_by_sha[ref.artifact_sha256] = load_model(ref, **kwargs)
    return LoadedModel(ref=ref, infer=_loaded_by_sha[ref.artifact_sha256].infer)


@pytest.fixture(autouse=True)
def fresh_predictor(monkeypatch) -> Iterator[None]:
    """Each test starts with a process that has loaded no model."""
    monkeypatch.setattr(predictor_module, "load_model", cached_load)
    reset_predictor()
    yield
    reset_predictor()


@pytest.fixture
def active_model(settings, tmp_path) -> ModelVersion:
    """The real bundled model (trained, 99.6 % on MNIST), active as version 1."""
    settings.MODEL_STORE_DIR = tmp_path / "models"
    return bundled_model_install()


@pytest.fixture(autouse=True)
def clear_throttle_counters() -> Iterator[None]:
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def drawing_png(
    strokes: list[list[tuple[float, float]]], *, size: int = 280, width: int = 22
) -> bytes:
    """Dark strokes on white, as a 280x280 canvas exports them."""
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    for stroke in strokes:
        draw.line(stroke, fill="black", width=width, joint="curve")
        for x, y in (stroke[0], stroke[-1]):
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


ONE = [[(140, 50), (140, 230)]]
SEVEN = [[(80, 60), (200, 60), (120, 230)]]
