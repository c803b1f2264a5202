"""Small PNGs of what was drawn and of what the model saw, for the admin.
Uploads are decoded with the same checks as the prediction API."""

import numpy as np
from django.conf import settings
from PIL import Image

from recognizer.imaging.decoding import ImageLimits, decode_image
from recognizer.imaging.shown import as_shown, png_bytes

SEEN_SCALE = 2  # the 28x28 is served at 56x56, nearest neighbour


def thumbnail_png(data: bytes, *, size: int) -> bytes:
    """An upload as a PNG of at most size x size, as the drawing page shows
    it. Decoded with the upload's own checks."""
    limits = ImageLimits(
        max_bytes=max(settings.PREDICTION_MAX_IMAGE_BYTES, ImageLimits.max_bytes),
        max_decoded_bytes=max(settings.PREDICTION_MAX_DECODED_BYTES, ImageLimits.max_decoded_bytes),
    )
    return png_bytes(as_shown(decode_image(data, limits), size))


def seen_enlarged_png(image28: np.ndarray) -> bytes:
    """The 28x28 the model saw (uint8, light digit on black), enlarged without blur."""
    image = Image.fromarray(image28)
    return png_bytes(image.resize((28 * SEEN_SCALE, 28 * SEEN_SCALE), Image.Resampling.NEAREST))
