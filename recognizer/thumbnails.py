"""Small PNGs of what was drawn and of what the model saw, for the admin.
Uploads are decoded with the same checks as the prediction API."""

import io

import numpy as np
from django.conf import settings
from PIL import Image, ImageOps

from recognizer.preprocessing import ImageLimits, decode_image, working_size

SEEN_SCALE = 2  # the 28x28 is served at 56x56, nearest neighbour


def thumbnail_png(data: bytes, *, size: int) -> bytes:
    """An upload as a PNG of at most size x size, transparency flattened onto
    white as the drawing page shows it. Decoded with the upload's own checks."""
    limits = ImageLimits(
        max_bytes=max(settings.PREDICTION_MAX_IMAGE_BYTES, ImageLimits.max_bytes),
        max_decoded_bytes=max(settings.PREDICTION_MAX_DECODED_BYTES, ImageLimits.max_decoded_bytes),
    )
    image = working_size(decode_image(data, limits))
    ImageOps.exif_transpose(image, in_place=True)
    if image.mode.startswith("I"):  # 16-bit grey: Pillow's "L" conversion would clip
        image = Image.fromarray((np.asarray(image, dtype=np.float32) / 257.0).astype(np.uint8))
    image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    image.thumbnail((size, size))  # resamples RGBA premultiplied: no dark fringes
    if image.mode == "RGBA":
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
    return _png(image.convert("RGB"))


def seen_png(preprocessed: bytes) -> bytes:
    """The 28x28 the model saw (light digit on black), enlarged without blur."""
    image = Image.frombytes("L", (28, 28), bytes(preprocessed))
    return _png(image.resize((28 * SEEN_SCALE, 28 * SEEN_SCALE), Image.Resampling.NEAREST))


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
