"""What a client sends -> the 28x28 image the model sees, with what to store.

Shared by single predictions and batch items. No Django here: errors are
`PreprocessingError`s with a machine-readable code, which the API turns into
400 answers.
"""

import base64
import binascii
import re
from dataclasses import dataclass

import numpy as np

from recognizer.preprocessing import (
    ImageLimits,
    PreprocessingError,
    bounded_png,
    decode_image,
    ink_from_image,
    mnist_from_ink,
    pixels_to_mnist,
)

# data:[<media type>][;base64],<data>
_DATA_URL = re.compile(r"^data:(?P<media>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^;,]*)*?);base64,", re.I)
_ACCEPTED_MEDIA = {"image/png", "image/jpeg", "image/jpg", "image/webp"}
_BASE64_CHARS = re.compile(rb"^[A-Za-z0-9+/\-_]*={0,2}$")


# What is kept of an upload bigger than its caller allows: a grey PNG of at
# most this side (the drawing page's canvas size).
KEPT_SIDE = 280


@dataclass(frozen=True)
class DigitInput:
    image28: np.ndarray  # (28, 28) float32 in [0, 1], MNIST convention
    original: bytes  # what is kept of the upload (see input_from_image_bytes); b"" for pixels
    image_format: str  # PNG, JPEG, WEBP or pixels


def input_from_image_bytes(
    data: bytes, limits: ImageLimits, *, keep_up_to: int | None = None
) -> DigitInput:
    """The upload as the model sees it, and what is kept of it: the bytes as
    sent, or, when they are over `keep_up_to` bytes, a grey PNG of at most
    KEPT_SIDE px (what a person needs to look at)."""
    image = decode_image(data, limits)
    image_format = image.format or ""
    image28 = mnist_from_ink(ink_from_image(image))
    if keep_up_to is not None and len(data) > keep_up_to:
        return DigitInput(image28, bounded_png(image, KEPT_SIDE), "PNG")
    return DigitInput(image28, data, image_format)


def input_from_base64(
    text: str, limits: ImageLimits, *, keep_up_to: int | None = None
) -> DigitInput:
    return input_from_image_bytes(bytes_from_base64(text, limits), limits, keep_up_to=keep_up_to)


def input_from_pixels(pixels: object) -> DigitInput:
    """A 28x28 array from a client, checked value by value."""
    return _from_mnist_image(pixels_to_mnist(pixels))


def input_from_uint8_image(image: np.ndarray) -> DigitInput:
    """One image of an array already known to be N x 28 x 28 uint8 (a batch's
    .npy, whose header was checked): nothing left to check per value."""
    return _from_mnist_image(image.astype(np.float32) / np.float32(255.0))


def _from_mnist_image(image28: np.ndarray) -> DigitInput:
    if not image28.any():
        raise PreprocessingError("no_ink", "The pixel array is all black: there is no digit.")
    return DigitInput(image28, b"", "pixels")


def bytes_from_base64(text: str, limits: ImageLimits) -> bytes:
    """Plain base64 (standard or URL-safe alphabet) or a data: URL."""
    match = _DATA_URL.match(text)
    if match:
        media = (match.group("media") or "").lower()
        if media and media not in _ACCEPTED_MEDIA:
            raise PreprocessingError(
                "unsupported_format",
                f"A data URL of type {media} is not accepted; send image/png, jpeg or webp.",
            )
        text = text[match.end() :]
    elif text[:5].lower() == "data:":
        raise PreprocessingError(
            "invalid_base64", "A data URL must look like data:image/png;base64,<data>."
        )
    # Refuse before decoding: base64 is 4/3 the size of what it holds.
    if len(text) > (limits.max_bytes * 4) // 3 + 4:
        raise PreprocessingError(
            "too_large", f"The encoded image is over the limit of {limits.max_bytes} bytes."
        )
    raw = "".join(text.split()).encode("ascii", errors="replace")
    if not raw:
        raise PreprocessingError("invalid_base64", "The image is empty.")
    if not _BASE64_CHARS.match(raw):
        raise PreprocessingError(
            "invalid_base64", "The image is not valid base64 (unexpected characters)."
        )
    raw = raw.replace(b"-", b"+").replace(b"_", b"/")
    raw += b"=" * (-len(raw) % 4)
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PreprocessingError(
            "invalid_base64", f"The image is not valid base64: {exc}."
        ) from exc
