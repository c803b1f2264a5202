"""Every bad input gets a 4xx with a JSON error saying what is wrong, and
stores nothing."""

import base64
import io
import struct
import zlib

import pytest
from PIL import Image

from recognizer.models import Submission
from tests.harness.canvas import ONE, canvas_png

pytestmark = pytest.mark.django_db

URL = "/api/v1/predictions/"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge image: a decompression bomb's
    shape, refused before any pixel is decoded."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    data = zlib.compress(b"\x00" * 1024)
    idat = (
        struct.pack(">I", len(data))
        + b"IDAT"
        + data
        + struct.pack(">I", zlib.crc32(b"IDAT" + data))
    )
    return b"\x89PNG\r\n\x1a\n" + ihdr + idat


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (28, 28), 255).save(buffer, format="GIF")
    return buffer.getvalue()


GOOD_PNG = canvas_png(ONE)
PIXELS = [[0] * 28 for _ in range(28)]
PIXELS_WITH_INK = (
    [[0] * 28 for _ in range(10)]
    + [[0] * 10 + [255] * 8 + [0] * 10] * 8
    + [[0] * 28 for _ in range(10)]
)

JSON_CASES = {
    "wrong base64": ({"image": "this is not base64!!"}, 400, "invalid_base64"),
    "base64 with a broken padding": ({"image": "iVBORw0KGgo=A"}, 400, "invalid_base64"),
    "non-image bytes": (
        {"image": b64(b"hello, I am text, not a picture" * 4)},
        400,
        "not_an_image",
    ),
    "truncated PNG": ({"image": b64(GOOD_PNG[: len(GOOD_PNG) // 2])}, 400, "truncated"),
    "unsupported format (GIF)": ({"image": b64(gif())}, 400, "unsupported_format"),
    "data URL of another type": (
        {"image": "data:text/plain;base64," + b64(GOOD_PNG)},
        400,
        "unsupported_format",
    ),
    "decompression bomb": ({"image": b64(png_header_claiming(60000, 60000))}, 400, "too_large"),
    "10000x1 image": ({"image": b64(png(Image.new("L", (10000, 1), 0)))}, 400, "too_large"),
    "1x1 image": ({"image": b64(png(Image.new("L", (1, 1), 0)))}, 400, "too_small"),
    "blank white drawing": (
        {"image": b64(png(Image.new("RGB", (280, 280), "white")))},
        400,
        "no_ink",
    ),
    "fully transparent drawing": (
        {"image": b64(png(Image.new("RGBA", (280, 280), (0, 0, 0, 0))))},
        400,
        "no_ink",
    ),
    "all-black pixel array": ({"pixels": PIXELS}, 400, "no_ink"),
    "pixels: 27 rows": ({"pixels": PIXELS_WITH_INK[:27]}, 400, "invalid_pixels"),
    "pixels: a short row": ({"pixels": [*PIXELS_WITH_INK[:27], [0] * 27]}, 400, "invalid_pixels"),
    "pixels: 256": ({"pixels": [[256] * 28, *PIXELS_WITH_INK[1:]]}, 400, "invalid_pixels"),
    "pixels: negative": ({"pixels": [[-1] * 28, *PIXELS_WITH_INK[1:]]}, 400, "invalid_pixels"),
    "pixels: floats": ({"pixels": [[0.5] * 28, *PIXELS_WITH_INK[1:]]}, 400, "invalid_pixels"),
    "pixels: strings": ({"pixels": [["1"] * 28, *PIXELS_WITH_INK[1:]]}, 400, "invalid_pixels"),
    "pixels: booleans": ({"pixels": [[True] * 28, *PIXELS_WITH_INK[1:]]}, 400, "invalid_pixels"),
    "pixels: a number": ({"pixels": 7}, 400, "invalid_pixels"),
    "pixels: 28x28x3": ({"pixels": [[[0, 0, 0]] * 28] * 28}, 400, "invalid_pixels"),
    "no field at all": ({}, 400, "invalid"),
    "both image and pixels": ({"image": b64(GOOD_PNG), "pixels": PIXELS_WITH_INK}, 400, "invalid"),
    "image is a number": ({"image": 12345}, 400, "invalid"),
    "image is a list": ({"image": [1, 2, 3]}, 400, "invalid"),
    "image is empty": ({"image": ""}, 400, "invalid"),
    "image is null": ({"image": None}, 400, "invalid"),
    "the body is a list": ([1, 2, 3], 400, "invalid"),
}


@pytest.mark.parametrize("body, status, code", JSON_CASES.values(), ids=JSON_CASES.keys())
def test_bad_json_input_is_a_4xx_that_stores_nothing(client, active_model, body, status, code):
    response = client.post(URL, body, content_type="application/json")

    assert response.status_code == status
    error = response.json()
    assert error["code"] == code
    assert isinstance(error["message"], str) and len(error["message"]) > 10
    assert not Submission.objects.exists()


def test_a_field_error_names_the_field(client, active_model):
    error = client.post(URL, {"image": 12345}, content_type="application/json").json()

    assert error["message"].startswith("image:")
    assert "image" in error["details"]


RAW_CASES = {
    "malformed JSON": (b'{"image": "abc', "application/json", 400, "parse_error"),
    "deeply nested JSON": (
        b'{"image": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "application/json",
        400,
        "parse_error",
    ),
    "XML": (b"<image>1</image>", "application/xml", 415, "unsupported_media_type"),
    "not UTF-8": (b'{"image": "\xff\xfe"}', "application/json", 400, "parse_error"),
}


@pytest.mark.parametrize(
    "body, content_type, status, code", RAW_CASES.values(), ids=RAW_CASES.keys()
)
def test_unparseable_bodies_are_refused(client, active_model, body, content_type, status, code):
    response = client.generic("POST", URL, body, content_type=content_type)

    assert response.status_code == status
    assert response.json()["code"] == code
    assert not Submission.objects.exists()


def test_a_body_over_the_limit_is_413_before_it_is_read(client, active_model, settings):
    settings.PREDICTION_MAX_IMAGE_BYTES = 10_000
    body = {"image": b64(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100_000)}

    response = client.post(URL, body, content_type="application/json")

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert not Submission.objects.exists()


def test_an_uploaded_file_over_the_image_limit_is_413(client, active_model, settings):
    settings.PREDICTION_MAX_IMAGE_BYTES = 50_000
    upload = io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\x00" * 60_000)
    upload.name = "big.png"

    response = client.post(URL, {"image": upload})

    assert response.status_code == 413
    assert not Submission.objects.exists()


def test_a_multipart_image_field_that_is_not_a_file_is_read_as_base64(client, active_model):
    response = client.post(URL, {"image": "not base64 at all!"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_base64"


def test_an_unknown_include_is_refused(client, active_model):
    response = client.post(
        URL + "?include=everything", {"image": b64(GOOD_PNG)}, content_type="application/json"
    )

    assert response.status_code == 400
    assert "include" in response.json()["details"]
    assert not Submission.objects.exists()


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_are_405(client, active_model, method, admin_user):
    client.force_login(admin_user)

    response = getattr(client, method)(URL)

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
