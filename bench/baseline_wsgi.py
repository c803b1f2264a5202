"""The site as mnistsite.wsgi serves it, but answering each prediction the
original demo's way, `model.predict()` per request: the baseline that
`python -m bench.predict_load` measures the site against (`--modes predict`
starts gunicorn with `bench.baseline_wsgi:application`).

Only the loader behind the site's predictor differs: this module puts its own
in `recognizer.predictor.load_model` (the name the predictor calls, and the
seam the test suite's conftest swaps too) before mnistsite.wsgi loads and
warms the active model. Everything else a request goes through (middleware,
throttles, decoding, the INSERT, the answer) is the site's own.
"""

import os
from pathlib import Path

import django
import numpy as np

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mnistsite.settings")
django.setup()  # the predictor's module imports models

from django.conf import settings  # noqa: E402

from recognizer import predictor  # noqa: E402
from training.ml.artifacts import ArtifactError, artifact_load  # noqa: E402


def load_for_keras_predict(ref: predictor.ModelRef, *, threads: int | None = None):
    """A version's Keras model (sha256-verified), answering through
    `model.predict()` on every call, warmed up once."""
    predictor._configure_tensorflow(threads or settings.PREDICTOR_THREADS)  # as the site's
    try:
        model = artifact_load(
            Path(settings.MODEL_STORE_DIR) / ref.artifact_path, ref.artifact_sha256
        )
    except (ArtifactError, OSError, ValueError) as exc:
        raise predictor.ModelUnavailable(f"model v{ref.version} cannot be loaded: {exc}") from exc

    def infer(images: np.ndarray) -> np.ndarray:
        return model.predict(images[..., None], verbose=0)

    infer(np.zeros((2, 28, 28), dtype=np.float32))
    return predictor.LoadedModel(ref=ref, infer=infer)


predictor.load_model = load_for_keras_predict

from mnistsite.wsgi import application  # noqa: E402, F401 - warms up through the loader above
