"""What a client sends -> the 28x28 image the model sees, with what to store.

Shared by single predictions and batch items. No Django here: errors are
`PreprocessingError`s with a machine-readable code, which the API turns into
400 answers.
"""

from dataclasses import dataclass

import numpy as np

from recognizer.imaging.decoding import (
    ImageLimits,
    PreprocessingError,
    bytes_from_base64,
    decode_image,
)
from recognizer.imaging.mnist import ink_from_image, mnist_from_ink, pixels_to_mnist
from recognizer.imaging.shown import bounded_png

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
