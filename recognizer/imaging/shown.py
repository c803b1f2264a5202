"""A decoded image as a person should see it, and the small PNGs kept of it."""

import io

import numpy as np
from PIL import Image, ImageOps

from recognizer.imaging.decoding import working_size


def as_shown(image: Image.Image, side: int) -> Image.Image:
    """A decoded image as a person should see it: upright, transparency
    flattened onto white (as the drawing page shows it), 16-bit grey brought
    to 8 bits, in RGB, at most `side` px on its longer side."""
    image = working_size(image)
    image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I"):  # 16-bit grey: Pillow's "L" conversion would clip
        image = Image.fromarray((np.asarray(image, dtype=np.float32) / 257.0).astype(np.uint8))
    image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    image.thumbnail((side, side))  # resamples RGBA premultiplied: no dark fringes
    if image.mode == "RGBA":
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
    return image.convert("RGB")


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def bounded_png(image: Image.Image, side: int) -> bytes:
    """What is kept of a large upload: a grey PNG of it as shown, at most
    `side` px, so its size is bounded whatever was uploaded."""
    return png_bytes(as_shown(image, side).convert("L"))


def seen_png(image28: np.ndarray) -> bytes:
    """The 28x28 the model saw (uint8, MNIST convention) as a lossless grey
    PNG: what a submission keeps for retraining, readable by any viewer."""
    buffer = io.BytesIO()
    # Level 1: about 220 bytes for a drawn digit, in half the time of level 9.
    Image.fromarray(np.asarray(image28, dtype=np.uint8)).save(
        buffer, format="PNG", compress_level=1
    )
    return buffer.getvalue()


def seen_from_png(data: bytes) -> np.ndarray:
    """seen_png's bytes -> the (28, 28) uint8 image again."""
    with Image.open(io.BytesIO(data)) as image:
        if image.size != (28, 28) or image.mode != "L":
            raise ValueError(f"not a 28x28 grey image ({image.mode} {image.size})")
        return np.asarray(image, dtype=np.uint8).copy()
