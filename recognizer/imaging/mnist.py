"""A decoded image -> where its ink is -> the 28x28 float image an
MNIST-trained network expects, made the way MNIST itself was made
(training/ml/mnist_style.py, which training uses too for the pen-drawn
digits it renders). Also a client's own 28x28 pixel array, checked.
"""

import numpy as np
from PIL import Image, ImageOps

from recognizer.imaging.decoding import (
    DEFAULT_LIMITS,
    ImageLimits,
    PreprocessingError,
    decode_image,
    working_size,
)
from training.ml import mnist_style
from training.ml.mnist_style import FIELD

# Less contrast than this between background and darkest/lightest pixel is a
# blank (or noisy blank) image, not a faint digit.
MIN_CONTRAST = 0.1
# On a transparent background, colour contrast weaker than this (white or pale
# yellow ink) is too coarse to use; the alpha channel is the ink instead.
MIN_COLOUR_CONTRAST = 0.25


def ink_from_image(image: Image.Image) -> np.ndarray:
    """Where the ink is, whatever its polarity, as float in [0, 1] (1 = strongest ink).

    1. Take the first frame and apply its EXIF orientation.
    2. Flatten any alpha onto white and convert to grey.
    3. The background level is the median of the border pixels; ink is the
       side (darker or lighter than it) that departs furthest from it.
    4. On a transparent background, use the alpha channel when the colour
       carries too little contrast (white or pale ink).
    5. Subtract the background and rescale so the strongest ink is 1.
    """
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    image = ImageOps.exif_transpose(working_size(image), in_place=False)
    gray, alpha = _gray_and_alpha(image)
    ink, contrast = _ink_and_contrast(gray)
    if alpha is not None and np.median(_border(alpha)) < 0.5 and contrast < MIN_COLOUR_CONTRAST:
        ink, contrast = _ink_and_contrast(alpha)
    if contrast < MIN_CONTRAST:
        return np.zeros_like(ink)
    return ink


def _gray_and_alpha(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Grey level in [0, 1] flattened onto white, and alpha in [0, 1] if any."""
    if image.mode.startswith("I"):
        # 16-bit PNG: Pillow's conversion to "L" clips instead of scaling.
        return np.asarray(image, dtype=np.float32) / 65535.0, None
    if image.has_transparency_data:
        # (In place where it gives the same numbers: this runs on every
        # canvas the page sends, so each whole-image copy shows in the latency.)
        rgba = np.asarray(image if image.mode == "RGBA" else image.convert("RGBA"), np.float32)
        np.divide(rgba, 255.0, out=rgba)
        # ITU-R 601 luma, the weights Pillow's own "L" conversion uses.
        gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        alpha = rgba[..., 3]
        gray *= alpha
        gray += 1.0 - alpha
        return gray, alpha
    if image.mode not in {"1", "L", "P", "RGB"}:
        image = image.convert("RGB")  # CMYK or YCbCr JPEGs
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0, None


def _border(values: np.ndarray) -> np.ndarray:
    width = max(1, round(min(values.shape) * 0.02))
    mask = np.ones(values.shape, dtype=bool)
    mask[width:-width, width:-width] = False
    return values[mask]


def _ink_and_contrast(values: np.ndarray) -> tuple[np.ndarray, float]:
    background = float(np.median(_border(values)))
    darker = background - float(values.min())
    lighter = float(values.max()) - background
    contrast = max(darker, lighter)
    if contrast <= 0:
        return np.zeros(values.shape, dtype=np.float32), 0.0
    signed = background - values if darker >= lighter else values - background
    return np.clip(signed / contrast, 0.0, 1.0).astype(np.float32), contrast


def mnist_from_ink(ink: np.ndarray) -> np.ndarray:
    """Ink (2-D, [0, 1], 1 = ink) -> (28, 28) float32, light digit on black:
    training's own MNIST-style step (training/ml/mnist_style.py), with a blank
    image reported as the API's `no_ink` error."""
    try:
        return mnist_style.mnist_from_ink(ink)
    except mnist_style.NoInk as exc:
        raise PreprocessingError("no_ink", str(exc)) from exc


def preprocess_image_bytes(data: bytes, limits: ImageLimits = DEFAULT_LIMITS) -> np.ndarray:
    """PNG/JPEG/WebP bytes of a drawing -> (28, 28) float32 in MNIST convention."""
    return mnist_from_ink(ink_from_image(decode_image(data, limits)))


def pixels_to_mnist(pixels: object) -> np.ndarray:
    """28 rows of 28 ints 0-255, already MNIST style -> (28, 28) float32 in [0, 1]."""
    if isinstance(pixels, np.ndarray):
        if pixels.dtype.kind not in "iu":
            raise _invalid(f"pixels must be integers, not {pixels.dtype}")
        rows = pixels.tolist()
    else:
        rows = pixels
    if not isinstance(rows, list | tuple) or len(rows) != FIELD:
        raise _invalid(f"pixels must be a list of {FIELD} rows")
    for index, row in enumerate(rows):
        if not isinstance(row, list | tuple) or len(row) != FIELD:
            raise _invalid(f"row {index} must be a list of {FIELD} values")
        for value in row:
            # bool is an int subclass, but True is not a grey level.
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise _invalid(f"row {index} holds {value!r}; values must be integers 0-255")
            if not 0 <= value <= 255:
                raise _invalid(f"row {index} holds {value}; values must be 0-255")
    return np.asarray(rows, dtype=np.float32) / 255.0


def _invalid(message: str) -> PreprocessingError:
    return PreprocessingError("invalid_pixels", message)
