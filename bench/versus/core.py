"""What the two comparison servers do for a request, with the site's own
Django-free code: the JSON body's `image` (base64 or a data URL) -> the
28x28 (recognizer.imaging, the site's limits) -> the bundled compiled model
(training.ml.litert, sha256-verified) -> the answer the site's preview gives.
Nothing is stored: that is the difference being measured."""

import json
from pathlib import Path

import numpy as np

from recognizer.imaging.decoding import DEFAULT_LIMITS, PreprocessingError
from recognizer.imaging.inputs import input_from_base64
from training.ml.artifacts import compiled_read
from training.ml.litert import SingleImageRunner

BUNDLE_DIR = Path(__file__).resolve().parents[2] / "training" / "bundled"


def bundled_runner() -> SingleImageRunner:
    metadata = json.loads((BUNDLE_DIR / "metadata.json").read_text())
    flatbuffer = compiled_read(BUNDLE_DIR / metadata["compiled_file"], metadata["compiled_sha256"])
    return SingleImageRunner(flatbuffer)


def recognise(runner: SingleImageRunner, image: object) -> tuple[int, dict]:
    """(status, answer) for one request's `image` field."""
    if not isinstance(image, str):
        return 400, {"code": "invalid", "message": "`image` must be a base64 string."}
    try:
        digit_input = input_from_base64(image, DEFAULT_LIMITS)
    except PreprocessingError as exc:
        return 400, {"code": exc.code, "message": exc.message}
    probabilities = runner(digit_input.image28[None].astype(np.float32))[0]
    digit = int(np.argmax(probabilities))
    rounded = [round(float(value), 6) for value in probabilities]
    return 200, {"digit": digit, "confidence": rounded[digit], "probabilities": rounded}
