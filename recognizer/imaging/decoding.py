"""Bytes from a client -> a decoded Pillow image, safely, or a
`PreprocessingError` with a machine-readable code (the API's 400 answers).

What an upload may cost is bounded here, before any pixel is decoded: its
bytes, its dimensions and its decoded size (`ImageLimits`).
"""

import base64
import binascii
import io
import re
from dataclasses import dataclass

from PIL import Image, ImageFile

_FORMATS = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}
_UNSUPPORTED = {b"GIF87a": "GIF", b"GIF89a": "GIF", b"BM": "BMP", b"II*\x00": "TIFF",
                b"MM\x00*": "TIFF", b"\x00\x00\x01\x00": "ICO", b"%PDF": "PDF"}  # fmt: skip


class PreprocessingError(ValueError):
    """Input that cannot become a digit image; `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 5 * 1024 * 1024
    max_width: int = 4096
    max_height: int = 4096
    max_pixels: int = 4096 * 4096
    # The decoded image in memory, known from the header before decoding: a
    # small file can decode to a lot (a blank 4096x4096 RGBA PNG is 137 KB
    # on the wire and 64 MiB decoded). JPEGs are decoded reduced first.
    max_decoded_bytes: int = 32 * 1024 * 1024
    # Smaller than this cannot hold a legible digit (USPS digits are 16x16).
    min_side: int = 8


# The API's defaults; settings may set other limits.
DEFAULT_LIMITS = ImageLimits()


def decode_image(data: bytes, limits: ImageLimits = DEFAULT_LIMITS) -> Image.Image:
    """Decode PNG, JPEG or WebP bytes safely.

    1. Refuse oversized input and sniff the format from its magic bytes, so no
       other Pillow plugin ever parses user data.
    2. Open lazily (headers only) and check the dimensions against `limits`
       before a single pixel is decoded: a decompression bomb costs nothing.
    3. Decode the first frame; a short stream is an error, never a partial image.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # A global someone else may have set; with it, truncated uploads pass.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must be off")
    if len(data) > limits.max_bytes:
        raise PreprocessingError(
            "too_large", f"The image is {len(data)} bytes; the limit is {limits.max_bytes}."
        )
    image_format = _sniff_format(data)
    # Pillow's own bomb check raises past 2 x MAX_IMAGE_PIXELS and only warns
    # between 1x and 2x (an error where warnings are errors). The warning is
    # not forced into an error with warnings.catch_warnings(), which swaps
    # process-wide state and is unsafe in a threaded server; nor need it be:
    # _check_size refuses those sizes before any pixel is decoded.
    try:
        image = Image.open(io.BytesIO(data), formats=[image_format])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PreprocessingError("too_large", f"The image has too many pixels: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports a header cut short as "Truncated File Read".
        code = "truncated" if "truncated" in str(exc).lower() else "corrupt"
        raise PreprocessingError(
            code, f"The data starts like {image_format} but its header is cut short or broken."
        ) from exc
    _check_size(image.size, limits)
    if image_format == "JPEG":
        # libjpeg decodes at 1/2, 1/4 or 1/8 scale for the asking: a photo is
        # then never decoded bigger than the working size needs.
        image.draft(None, _scaled_to(image.size, WORKING_SIDE))
    _check_decoded_size(image, limits)
    try:
        image.seek(0)
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise PreprocessingError(
            "truncated", f"The {image_format} image is truncated or corrupt: {exc}"
        ) from exc
    return image


# Images are brought down to this longer side (by whole-pixel box averaging)
# before any float copy is made: a 20 px MNIST digit needs far less, and the
# float arrays of a 4096x4096 image would be 64 MiB each.
WORKING_SIDE = 1024
# Bytes per pixel as Pillow holds a decoded image: 1 for one-byte modes, 2 for
# 16-bit grey, 4 for every other mode (RGB is stored padded to 4 bytes too).
_STORED_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2}


def _check_decoded_size(image: Image.Image, limits: ImageLimits) -> None:
    width, height = image.size  # after a JPEG draft: the reduced size
    decoded = width * height * _STORED_BYTES.get(image.mode, 4)
    if decoded > limits.max_decoded_bytes:
        raise PreprocessingError(
            "too_large",
            f"The image ({width}x{height}, {image.mode}) would take {decoded / 2**20:.0f} MiB "
            f"decoded; the limit is {limits.max_decoded_bytes / 2**20:.0f} MiB. "
            "Send a smaller image, or a grey-scale one.",
        )


def _scaled_to(size: tuple[int, int], side: int) -> tuple[int, int]:
    """`size` scaled so that its longer side is at most `side`."""
    width, height = size
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def working_size(image: Image.Image) -> Image.Image:
    """`image` with its longer side brought to at most WORKING_SIDE, by an
    integer box reduction (an average: thin strokes stay ink)."""
    factor = -(-max(image.size) // WORKING_SIDE)  # ceiling division
    if factor <= 1:
        return image
    if image.mode in ("1", "P"):
        image = image.convert("RGBA" if image.has_transparency_data else "L")
    elif image.mode.startswith("I;16"):
        image = image.convert("I")
    return image.reduce(factor)


def _sniff_format(data: bytes) -> str:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        # libwebp reads the whole file on open; its RIFF size tells a cut file
        # from a broken one, which Pillow cannot.
        if len(data) < 8 + int.from_bytes(data[4:8], "little"):
            raise PreprocessingError("truncated", "The WebP image is truncated.")
        return "WEBP"
    for magic, name in _FORMATS.items():
        if data.startswith(magic):
            return name
    for magic, name in _UNSUPPORTED.items():
        if data.startswith(magic):
            raise PreprocessingError(
                "unsupported_format", f"{name} images are not accepted; send PNG, JPEG or WebP."
            )
    raise PreprocessingError("not_an_image", "The data is not a PNG, JPEG or WebP image.")


def _check_size(size: tuple[int, int], limits: ImageLimits) -> None:
    width, height = size
    if width > limits.max_width or height > limits.max_height or width * height > limits.max_pixels:
        raise PreprocessingError(
            "too_large",
            f"The image is {width}x{height}; the limit is {limits.max_width}x{limits.max_height}.",
        )
    if min(width, height) < limits.min_side:
        raise PreprocessingError(
            "too_small",
            f"The image is {width}x{height}; each side must be at least {limits.min_side} px.",
        )


# data:[<media type>][;base64],<data>
_DATA_URL = re.compile(r"^data:(?P<media>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^;,]*)*?);base64,", re.I)
_ACCEPTED_MEDIA = {"image/png", "image/jpeg", "image/jpg", "image/webp"}
_BASE64_CHARS = re.compile(rb"^[A-Za-z0-9+/\-_]*={0,2}$")


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
