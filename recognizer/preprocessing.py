"""Image bytes -> the 28x28 float image an MNIST-trained network expects.

No Django here (numpy and Pillow only), so it is tested without a database.
Two steps: decode the upload safely and find its ink (here), then make the
ink MNIST-style, the way MNIST itself was made (training/ml/mnist_style.py,
which training uses too for the pen-drawn digits it renders).
"""

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile, ImageOps

from training.ml import mnist_style
from training.ml.mnist_style import FIELD

# Less contrast than this between background and darkest/lightest pixel is a
# blank (or noisy blank) image, not a faint digit.
MIN_CONTRAST = 0.1
# On a transparent background, colour contrast weaker than this (white or pale
# yellow ink) is too coarse to use; the alpha channel is the ink instead.
MIN_COLOUR_CONTRAST = 0.25

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


def decode_image(data: bytes, limits: ImageLimits = ImageLimits()) -> Image.Image:
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


def preprocess_image_bytes(data: bytes, limits: ImageLimits = ImageLimits()) -> np.ndarray:
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
