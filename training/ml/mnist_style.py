"""Ink -> the 28x28 image every model here is trained on and fed: MNIST's own
convention. No Django.

It lives in `training` because it is the contract between the two apps: the
site's preprocessing (recognizer/imaging/) turns an uploaded drawing
into ink and then calls this, and training renders pen-drawn digits to ink and
calls the same function, so both see exactly the same 28x28 images.

The pipeline copies how MNIST itself was made: the digit's bounding box is
scaled to 20 px on its longer side with anti-aliasing, placed in a 28x28 field
and translated (by whole pixels) so that its centre of mass sits at the centre.
"""

import math

import numpy as np
from PIL import Image

FIELD = 28
BOX = 20
# Mean centre of mass of the 60,000 MNIST training digits, measured on
# train-images-idx3-ubyte as intensity-weighted (row, column) pixel indices:
# (13.996, 14.007), std 0.29 on each axis, which is the spread of rounding to
# whole pixels. So MNIST's "centre of the field" is index 14.0, not 13.5.
CENTRE = 14.0
# Ink at or below this (after the background is normalised to 0) does not
# count towards the bounding box. Not a small epsilon: JPEG ringing around a
# black stroke on white reaches 0.15 three pixels away at quality 75 and 0.19
# at quality 50 (measured), and would otherwise widen the box. Only the box
# uses it; every grey level inside the box is kept.
INK_BOX_THRESHOLD = 0.25


class NoInk(ValueError):
    """Nothing above INK_BOX_THRESHOLD: there is no digit to centre."""


def mnist_from_ink(ink: np.ndarray) -> np.ndarray:
    """Ink (2-D, [0, 1], 1 = ink, any size) -> (28, 28) float32, light digit on black.

    1. Bounding box of the pixels above INK_BOX_THRESHOLD (no binarisation: the
       crop keeps every grey level inside it).
    2. Scale the crop so its longer side is 20 px, keeping the aspect ratio:
       area averaging when shrinking (MNIST's anti-aliasing), bilinear when
       enlarging. Then rescale so the peak is 1, as in MNIST (every training
       digit peaks at 254 or 255), so that a thin stroke on a big canvas,
       averaged down to a faint line, does not vanish.
    3. Place it in the 28x28 field, translated by whole pixels so that its
       intensity centre of mass is at CENTRE, clamped so the scaled box stays
       entirely inside the field.
    """
    ink = np.clip(np.nan_to_num(np.asarray(ink, dtype=np.float32)), 0.0, 1.0)
    if ink.ndim != 2:
        raise ValueError(f"ink must be a 2-D array, not {ink.ndim}-D")
    rows = np.flatnonzero((ink > INK_BOX_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_BOX_THRESHOLD).any(axis=0))
    if rows.size == 0:
        raise NoInk("The image has no ink: draw a digit, then send it.")
    patch = _scale_to_box(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    return _place_by_centre_of_mass(patch)


def _scale_to_box(crop: np.ndarray) -> np.ndarray:
    height, width = crop.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    resized = Image.fromarray(np.ascontiguousarray(crop)).resize(size, resample)
    patch = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
    peak = float(patch.max())
    return patch / peak if peak > 0 else patch


def _place_by_centre_of_mass(patch: np.ndarray) -> np.ndarray:
    height, width = patch.shape
    total = float(patch.sum())
    centre_row = float((patch.sum(axis=1) * np.arange(height)).sum()) / total
    centre_col = float((patch.sum(axis=0) * np.arange(width)).sum()) / total
    # floor(x + 0.5): half-up rounding, not numpy's round-half-to-even.
    top = min(max(math.floor(CENTRE - centre_row + 0.5), 0), FIELD - height)
    left = min(max(math.floor(CENTRE - centre_col + 0.5), 0), FIELD - width)
    field = np.zeros((FIELD, FIELD), dtype=np.float32)
    field[top : top + height, left : left + width] = patch
    return field


def to_uint8(image28: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] -> uint8 0-255 (rounded, clipped)."""
    return np.clip(np.rint(np.asarray(image28, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
