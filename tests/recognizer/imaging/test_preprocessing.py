"""The drawing -> MNIST 28x28 pipeline, pinned with synthetic drawings and a
reference array, and its refusal of bad input."""

import io
import time
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFile

from recognizer.imaging.decoding import ImageLimits, PreprocessingError, decode_image
from recognizer.imaging.mnist import (
    ink_from_image,
    mnist_from_ink,
    pixels_to_mnist,
    preprocess_image_bytes,
)
from training.ml.mnist_style import BOX, CENTRE, FIELD, to_uint8

# A "7" with a crossbar, in drawing units; asymmetric, so its centre of mass
# sits well away from a rounding tie.
SEVEN = [(0, 0), (120, 0), (40, 200)]
BAR = [(30, 100), (110, 100)]

# preprocess_image_bytes(png(seven())) as uint8, one row of hex per line. Any
# change to the pipeline changes it; if the change is intended, regenerate with
# `to_uint8(preprocess_image_bytes(png(seven()))).tobytes().hex()` in rows of 56.
REFERENCE_HEX = """
00000000000000000000000000000000000000000000000000000000
00000000000000000000000000000000000000000000000000000000
00000000000000000000000000000000000000000000000000000000
00000000000000000000000000000000000000000000000000000000
00000000000000000000000000000000000000000000000000000000
00000000000000000000000000000000000000000000000000000000
00000000000000000000000000000000000000000000000000000000
0000000000000000f9f9f9f9f9f9f9f9f9f9f9c40000000000000000
0000000000000000ffffffffffffffffffffffe20000000000000000
0000000000000000060606060606060606a5ff850000000000000000
000000000000000000000000000000000ef4fe250000000000000000
000000000000000000000000000000006affbd000000000000000000
00000000000000000000000000000000cfff57000000000000000000
00000000000000000000000000000032ffee07000000000000000000
00000000000000000000000000000093ff9300000000000000000000
00000000000000000000000000000befff2d00000000000000000000
0000000000000000000031b4b4b4c7fff9b414000000000000000000
0000000000000000000046ffffffffffffff1d000000000000000000
000000000000000000001b636388fff464630b000000000000000000
0000000000000000000000000098ff9c000000000000000000000000
00000000000000000000000011f5ff37000000000000000000000000
00000000000000000000000069ffd000000000000000000000000000
000000000000000000000000cbff6500000000000000000000000000
000000000000000000000032fff70900000000000000000000000000
000000000000000000000098ff9d0000000000000000000000000000
0000000000000000000009f0ff320000000000000000000000000000
000000000000000000001396bc000000000000000000000000000000
00000000000000000000000000000000000000000000000000000000
"""


def seven_coverage(
    size: int = 280, origin: tuple[float, float] = (80, 40), scale: float = 1.0, width: float = 22
) -> np.ndarray:
    """Anti-aliased coverage (1 = ink) of the "7", drawn 4x larger and area-averaged down."""
    ss = 4
    big = Image.new("L", (size * ss, size * ss), 0)
    draw = ImageDraw.Draw(big)

    def points(path: list[tuple[int, int]]) -> list[tuple[float, float]]:
        return [((origin[0] + x * scale) * ss, (origin[1] + y * scale) * ss) for x, y in path]

    stroke = round(width * scale * ss)
    draw.line(points(SEVEN), fill=255, width=stroke, joint="curve")
    draw.line(points(BAR), fill=255, width=stroke)
    small = big.resize((size, size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def seven(
    ink: tuple[int, ...] = (0, 0, 0),
    paper: tuple[int, ...] = (255, 255, 255),
    mode: str = "RGB",
    **geometry: float,
) -> Image.Image:
    """The "7" in `ink` on `paper`, blended by coverage (RGBA colours blend alpha too)."""
    coverage = seven_coverage(**geometry)[..., None]
    pixels = coverage * np.array(ink, np.float32) + (1 - coverage) * np.array(paper, np.float32)
    return Image.fromarray(np.rint(pixels).astype(np.uint8)).convert(mode)


def encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def png(image: Image.Image) -> bytes:
    return encode(image, "PNG")


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    total = image.sum()
    rows = (image.sum(axis=1) * np.arange(image.shape[0])).sum() / total
    cols = (image.sum(axis=0) * np.arange(image.shape[1])).sum() / total
    return float(rows), float(cols)


def box_sides(image: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def code_of(data: bytes, limits: ImageLimits = ImageLimits()) -> str:  # noqa: B008
    with pytest.raises(PreprocessingError) as caught:
        preprocess_image_bytes(data, limits)
    assert caught.value.message
    return caught.value.code


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return preprocess_image_bytes(png(seven()))


# --- the MNIST geometry ------------------------------------------------------


def test_output_is_28x28_float32_light_digit_on_black(reference):
    assert reference.shape == (FIELD, FIELD)
    assert reference.dtype == np.float32
    assert reference.min() == 0.0
    assert reference.max() == pytest.approx(1.0)
    assert reference[0].sum() == reference[:, 0].sum() == 0  # background is black


def test_longer_side_of_the_digit_is_20_px(reference):
    assert max(box_sides(reference > 0)) == BOX


def test_centre_of_mass_is_at_the_mnist_centre(reference):
    rows, cols = centre_of_mass(reference)
    assert abs(rows - CENTRE) <= 0.5
    assert abs(cols - CENTRE) <= 0.5


def test_reference_array_is_unchanged(reference):
    expected = np.frombuffer(bytes.fromhex("".join(REFERENCE_HEX.split())), np.uint8)
    expected = expected.reshape(FIELD, FIELD)
    np.testing.assert_array_equal(to_uint8(reference), expected)
    np.testing.assert_allclose(reference, expected / 255.0, atol=0.5 / 255 + 1e-6)


def test_small_drawing_in_a_corner_of_a_big_canvas_matches_a_centred_one(reference):
    corner = preprocess_image_bytes(png(seven(size=1000, origin=(800, 20), scale=0.4)))
    assert centre_of_mass(corner) == pytest.approx(centre_of_mass(reference), abs=0.2)
    assert np.abs(corner - reference).mean() < 0.015


def test_large_drawing_matches_a_small_one(reference):
    large = preprocess_image_bytes(png(seven(size=1200, origin=(200, 200), scale=3.5)))
    assert np.abs(large - reference).mean() < 0.01


def test_a_one_pixel_stroke_on_a_big_canvas_does_not_vanish():
    canvas = Image.new("L", (2000, 2000), 255)
    ImageDraw.Draw(canvas).line([(1000, 100), (1100, 1900)], fill=0, width=1)
    out = preprocess_image_bytes(png(canvas))
    assert out.max() == pytest.approx(1.0)
    assert box_sides(out > 0.25)[0] == BOX


def test_shift_is_clamped_so_nothing_leaves_the_field():
    # Heavy blob at the top-left of a long thin tail: the centre of mass is
    # far from the box's middle, so the unclamped shift would push it out.
    ink = np.zeros((100, 100), np.float32)
    ink[:10, :10] = 1.0
    ink[:, 0] = 1.0
    ink[0, :] = 1.0
    out = mnist_from_ink(ink)
    rows, cols = centre_of_mass(out)
    assert rows < CENTRE - 1 and cols < CENTRE - 1  # the clamp held it back
    assert box_sides(out > 0) == (BOX, BOX)  # and nothing was cut off


def test_ink_must_be_two_dimensional():
    with pytest.raises(ValueError):
        mnist_from_ink(np.ones((4, 4, 3)))


def test_no_ink_is_rejected_with_a_clear_message():
    with pytest.raises(PreprocessingError, match="no ink") as caught:
        mnist_from_ink(np.zeros((50, 50)))
    assert caught.value.code == "no_ink"


# --- polarity, colour and transparency ---------------------------------------


def test_dark_on_light_light_on_dark_and_transparent_give_the_same_array(reference):
    variants = {
        "light on dark": seven(ink=(255, 255, 255), paper=(0, 0, 0)),
        # As a canvas stores it: the stroke's colour everywhere, coverage in alpha.
        "black on transparent": seven(ink=(0, 0, 0, 255), paper=(0, 0, 0, 0), mode="RGBA"),
        "white on transparent": seven(ink=(255,) * 4, paper=(255, 255, 255, 0), mode="RGBA"),
        "yellow on transparent": seven(ink=(255, 255, 0, 255), paper=(255, 255, 0, 0), mode="RGBA"),
        "red on transparent": seven(ink=(220, 0, 0, 255), paper=(220, 0, 0, 0), mode="RGBA"),
        "blue on grey paper": seven(ink=(20, 40, 200), paper=(200, 200, 200)),
        "greyscale": seven(mode="L"),
    }
    for name, image in variants.items():
        np.testing.assert_allclose(
            preprocess_image_bytes(png(image)), reference, atol=0.02, err_msg=name
        )


def test_sixteen_bit_greyscale_png_is_scaled_not_clipped(reference):
    wide = (np.asarray(seven(mode="L"), np.uint16) * 257).astype(np.uint16)
    image = Image.fromarray(wide)
    assert image.mode.startswith("I")
    np.testing.assert_allclose(preprocess_image_bytes(png(image)), reference, atol=1e-3)


def test_ink_is_normalised_with_background_at_zero():
    ink = ink_from_image(seven(ink=(90, 90, 90), paper=(180, 180, 180)))
    assert ink.dtype == np.float32
    assert np.median(ink) == 0.0
    assert ink.max() == pytest.approx(1.0)


# --- encodings ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("image_format", "options"),
    [("JPEG", {"quality": 92}), ("JPEG", {"quality": 50}), ("WEBP", {"quality": 80})],
)
def test_lossy_encodings_give_nearly_the_same_array(reference, image_format, options):
    out = preprocess_image_bytes(encode(seven(), image_format, **options))
    assert centre_of_mass(out) == pytest.approx(centre_of_mass(reference), abs=0.05)
    assert np.abs(out - reference).mean() < 0.005
    assert np.abs(out - reference).max() < 0.05


def test_exif_orientation_6_jpeg_is_turned_upright(reference):
    # Orientation 6: the stored pixels are turned 90 degrees anticlockwise and
    # a viewer turns them back clockwise.
    stored = seven().transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    upright = preprocess_image_bytes(encode(stored, "JPEG", quality=95, exif=exif.tobytes()))
    sideways = preprocess_image_bytes(encode(stored, "JPEG", quality=95))
    assert np.abs(upright - reference).mean() < 0.005
    assert np.abs(sideways - reference).mean() > 0.1


@pytest.mark.parametrize("image_format", ["PNG", "WEBP"])
def test_animated_image_uses_the_first_frame(reference, image_format):
    other = Image.new("RGB", (280, 280), "white")
    ImageDraw.Draw(other).ellipse((60, 60, 220, 220), outline="black", width=30)
    data = encode(
        seven(), image_format, save_all=True, append_images=[other], duration=100, lossless=True
    )
    assert Image.open(io.BytesIO(data)).n_frames == 2
    np.testing.assert_allclose(preprocess_image_bytes(data), reference, atol=0.02)


# --- bad input ---------------------------------------------------------------


def png_with_header_size(width: int, height: int) -> bytes:
    """A valid 8x8 PNG whose IHDR then claims width x height (CRC fixed up)."""
    data = bytearray(png(Image.new("L", (8, 8), 255)))
    # Signature (8) + chunk length (4); the IHDR type and data are bytes 12..29.
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "not_an_image"),
        (np.random.default_rng(7).bytes(5000), "not_an_image"),
        (b"<html><body>not an image</body></html>", "not_an_image"),
        (encode(Image.new("RGB", (64, 64), "white"), "GIF"), "unsupported_format"),
        (encode(Image.new("RGB", (64, 64), "white"), "BMP"), "unsupported_format"),
        (encode(Image.new("RGB", (64, 64), "white"), "TIFF"), "unsupported_format"),
        (png(Image.new("L", (1, 1), 0)), "too_small"),
        (png(Image.new("L", (10000, 1), 0)), "too_large"),
        (png(Image.new("L", (255, 255), 255)), "no_ink"),
        (png(Image.new("RGBA", (255, 255), (0, 0, 0, 0))), "no_ink"),
        (encode(Image.new("RGB", (64, 64), "white"), "JPEG"), "no_ink"),
    ],
    ids=[
        "empty",
        "random",
        "html",
        "gif",
        "bmp",
        "tiff",
        "1x1",
        "10000x1",
        "blank",
        "clear",
        "jpeg",
    ],
)
def test_bad_input_is_rejected_with_a_code(data, code):
    assert code_of(data) == code


def test_faint_noise_on_a_blank_canvas_is_no_ink():
    noise = np.random.default_rng(3).integers(250, 256, (200, 200), dtype=np.uint8)
    assert code_of(png(Image.fromarray(noise))) == "no_ink"


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "WEBP"])
def test_truncated_image_is_rejected(image_format):
    data = encode(seven(), image_format)
    assert code_of(data[: len(data) // 2]) == "truncated"


def test_truncated_images_are_never_loaded_partially(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        decode_image(png(seven()))


# 10000x10000 lies between Pillow's bomb warning and bomb error: it warns, we refuse.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    ("width", "height"), [(50000, 50000), (10000, 10000), (5000, 5000), (4097, 8)]
)
def test_huge_header_is_rejected_without_decoding(width, height):
    # 5000x5000 is below Pillow's own bomb limits, so this is our check; the
    # pixel data behind the forged header is 8x8, so decoding would fail as
    # "truncated", not "too_large".
    started = time.perf_counter()
    assert code_of(png_with_header_size(width, height)) == "too_large"
    assert time.perf_counter() - started < 0.5


def test_pixel_count_limit_applies_below_the_side_limits():
    limits = ImageLimits(max_pixels=100 * 100)
    assert code_of(png(Image.new("L", (101, 100), 255)), limits) == "too_large"


def test_data_over_max_bytes_is_rejected_before_parsing():
    assert code_of(png(seven()), ImageLimits(max_bytes=100)) == "too_large"
    assert code_of(b"\x89PNG\r\n\x1a\n" + bytes(5 * 1024 * 1024)) == "too_large"


def test_decode_image_returns_a_loaded_first_frame():
    image = decode_image(png(seven()))
    assert image.format == "PNG"
    assert image.size == (280, 280)


# --- pixels in MNIST convention ----------------------------------------------


def test_pixels_are_taken_as_they_are():
    pixels = [[(row * FIELD + col) % 256 for col in range(FIELD)] for row in range(FIELD)]
    out = pixels_to_mnist(pixels)
    assert out.dtype == np.float32
    assert out.shape == (FIELD, FIELD)
    np.testing.assert_allclose(out * 255, np.array(pixels), atol=1e-4)
    np.testing.assert_array_equal(to_uint8(out), np.array(pixels))


def test_pixels_may_be_a_numpy_integer_array():
    pixels = np.full((FIELD, FIELD), 255, np.uint8)
    assert pixels_to_mnist(pixels).min() == 1.0


def _grid(value: object = 0) -> list[list[object]]:
    return [[0] * FIELD for _ in range(FIELD - 1)] + [[0] * (FIELD - 1) + [value]]


@pytest.mark.parametrize(
    ("pixels", "words"),
    [
        ([[0] * FIELD for _ in range(FIELD - 1)], "28 rows"),
        ([[0] * FIELD for _ in range(FIELD - 1)] + [[0] * 27], "row 27"),
        (_grid(256), "0-255"),
        (_grid(-1), "0-255"),
        (_grid(0.5), "integers"),
        (_grid(1.0), "integers"),
        (_grid("12"), "integers"),
        (_grid(True), "integers"),
        (_grid(None), "integers"),
        ("not pixels", "28 rows"),
        ({"rows": []}, "28 rows"),
        (None, "28 rows"),
        (np.zeros((FIELD, FIELD), np.float32), "integers"),
        (np.zeros((FIELD, FIELD), bool), "integers"),
        (np.zeros((FIELD, FIELD, 3), np.uint8), "integers"),
    ],
    ids=[
        "27-rows",
        "ragged",
        "256",
        "minus-1",
        "float",
        "whole-float",
        "string",
        "bool",
        "none",
        "str",
        "dict",
        "null",
        "float-array",
        "bool-array",
        "rgb-array",
    ],
)
def test_invalid_pixels_are_rejected(pixels, words):
    with pytest.raises(PreprocessingError, match=words) as caught:
        pixels_to_mnist(pixels)
    assert caught.value.code == "invalid_pixels"


def test_to_uint8_rounds_and_clips():
    values = np.array([-0.2, 0.0, 0.5 / 255 + 1e-4, 127.6 / 255, 1.0, 1.3])
    np.testing.assert_array_equal(to_uint8(values), np.array([0, 0, 1, 128, 255, 255], np.uint8))
