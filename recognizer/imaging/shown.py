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
