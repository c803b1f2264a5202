"""The hostile requests of test_hostile_inputs.py, by group, each with the
4xx and error code it must get. The existing rejection tables of
tests/recognizer are included whole, so this adds to them."""

import base64
import io
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from PIL import Image

from recognizer.imaging.containers import MAX_ITEMS
from tests.harness.canvas import ONE, canvas_png
from tests.recognizer.batches.test_api import BAD_BATCHES
from tests.recognizer.test_prediction_api_rejects import JSON_CASES, RAW_CASES
from tests.security import payloads as hostile

PREDICTIONS = "/api/v1/predictions/"
BATCHES = "/api/v1/batches/"
JOBS = "/api/v1/training-jobs/"
FEEDBACK = PREDICTIONS + "{prediction}/feedback/"


@dataclass(frozen=True)
class Hostile:
    """One request and the 4xx (with its error code) it must get."""

    status: int
    code: str
    body: Any = None  # sent as JSON; bytes are sent as they are
    path: str = PREDICTIONS  # {prediction}, {batch}, {job}: ids that exist
    who: str = "anonymous"  # or "token" (an integrator) or "staff" (a staff token)
    method: str = "post"
    content_type: str = "application/json"
    upload: tuple[str, bytes] | None = None  # (name, bytes): a multipart file
    upload_field: str = ""  # default: "image" on predictions, "file" on batches
    form: dict = field(default_factory=dict)  # more multipart fields
    meta: dict = field(default_factory=dict)  # WSGI environ: headers, Content-Length
    settings: dict = field(default_factory=dict)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def image_of(picture: Image.Image, image_format: str) -> dict:
    return {"image": b64(hostile.image_bytes(picture, image_format))}


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


PNG = canvas_png(ONE)
DRAWING = Image.open(io.BytesIO(PNG))
INK = [[0] * 28] * 10 + [[0] * 10 + [255] * 8 + [0] * 10] * 8 + [[0] * 28] * 10
BOMB = b64(hostile.jpeg_claiming(65000, 65000))
FULL_WIDTH = (
    "\uff49\uff36\uff22\uff2f\uff32\uff57\uff10"  # "iVBORw0" (a PNG's base64) in full width
)

# --- hostile-1: what a prediction is made from -------------------------------------------

PREDICTION_INPUTS: dict[str, Hostile] = {
    **{name: Hostile(status, code, body) for name, (body, status, code) in JSON_CASES.items()},
    **{
        name: Hostile(status, code, body, content_type=content_type)
        for name, (body, content_type, status, code) in RAW_CASES.items()
    },
    "BMP": Hostile(400, "unsupported_format", image_of(Image.new("L", (28, 28)), "BMP")),
    "TIFF": Hostile(400, "unsupported_format", image_of(Image.new("L", (28, 28)), "TIFF")),
    "ICO": Hostile(400, "unsupported_format", image_of(Image.new("L", (32, 32)), "ICO")),
    "PDF": Hostile(400, "unsupported_format", {"image": b64(b"%PDF-1.7\n" + bytes(100))}),
    "SVG with a script": Hostile(
        400, "not_an_image", {"image": b64(b"<svg><script>alert(1)</script></svg>")}
    ),
    "SVG data URL": Hostile(
        400, "unsupported_format", {"image": "data:image/svg+xml;base64," + b64(b"<svg/>")}
    ),
    "HTML data URL": Hostile(
        400, "unsupported_format", {"image": "data:text/html;base64," + b64(b"<script>")}
    ),
    "truncated JPEG": Hostile(
        400, "truncated", {"image": b64(hostile.image_bytes(DRAWING.convert("L"), "JPEG")[:-300])}
    ),
    "truncated WebP": Hostile(
        400, "truncated", {"image": b64(hostile.image_bytes(DRAWING, "WEBP")[:-40])}
    ),
    "JPEG claiming 65000x65000": Hostile(400, "too_large", {"image": BOMB}),
    "1x10000 image": Hostile(400, "too_large", image_of(Image.new("L", (1, 10000)), "PNG")),
    "8x7 image": Hostile(400, "too_small", image_of(Image.new("L", (8, 7)), "PNG")),
    "4 KiB of NUL bytes": Hostile(400, "not_an_image", {"image": b64(bytes(4096))}),
    "base64 in full-width letters": Hostile(400, "invalid_base64", {"image": FULL_WIDTH}),
    "5 MB of base64 junk": Hostile(400, "invalid_base64", {"image": "!" * 5_000_000}),
    "pixels: NaN": Hostile(400, "parse_error", b'{"pixels": [[NaN]]}'),
    "pixels: Infinity": Hostile(400, "parse_error", b'{"pixels": [[-Infinity]]}'),
    "pixels: 1e999": Hostile(
        400, "invalid", json.dumps({"pixels": INK}).replace("255", "1e999", 1).encode()
    ),
    "pixels: 10**100": Hostile(400, "invalid_pixels", {"pixels": [[10**100] * 28, *INK[1:]]}),
    "pixels: nulls": Hostile(400, "invalid_pixels", {"pixels": [[None] * 28, *INK[1:]]}),
    "pixels: objects": Hostile(400, "invalid_pixels", {"pixels": [[{"a": 1}] * 28, *INK[1:]]}),
    "pixels: a string": Hostile(400, "invalid_pixels", {"pixels": "0" * 784}),
    "pixels: empty": Hostile(400, "invalid_pixels", {"pixels": []}),
    "pixels: 28 rows of 10,000": Hostile(400, "invalid_pixels", {"pixels": [[0] * 10_000] * 28}),
    "pixels: 1,000,000 rows": Hostile(400, "invalid_pixels", {"pixels": [[0]] * 1_000_000}),
    "pixels: nested 500 deep": Hostile(400, "invalid_pixels", {"pixels": nested(500)}),
    "JSON body over the limit": Hostile(413, "payload_too_large", {"image": "A" * 8_000_000}),
    "upload over the image limit": Hostile(
        413, "payload_too_large", upload=("big.png", b"\x89PNG\r\n\x1a\n" + bytes(5_300_000))
    ),
    "upload of text named ../../etc/passwd.png": Hostile(
        400, "not_an_image", upload=("../../etc/passwd.png", b"root:x:0:0:root:/root:/bin/sh")
    ),
    "upload of HTML": Hostile(
        400, "not_an_image", upload=("page.html", b"<html><script>alert(1)</script></html>")
    ),
    "empty upload": Hostile(400, "not_an_image", upload=("empty.png", b"")),
    "upload under another name": Hostile(
        400, "invalid", upload=("x.png", PNG), upload_field="picture"
    ),
    "form-encoded junk": Hostile(
        400,
        "invalid_base64",
        b"image=%3Cscript%3E",
        content_type="application/x-www-form-urlencoded",
    ),
    "form of 3 MB": Hostile(
        413,
        "payload_too_large",
        b"image=" + b"A" * 3_000_000,
        content_type="application/x-www-form-urlencoded",
    ),
    "form of 2,000 fields": Hostile(
        400,
        "parse_error",
        "&".join(f"f{index}=1" for index in range(2000)).encode(),
        content_type="application/x-www-form-urlencoded",
    ),
    "Content-Length not a number": Hostile(
        400, "parse_error", {"pixels": INK}, meta={"CONTENT_LENGTH": "lots"}
    ),
    "Content-Length shorter than the body": Hostile(
        400, "parse_error", {"pixels": INK}, meta={"CONTENT_LENGTH": "10"}
    ),
    "JSON null": Hostile(400, "invalid", b"null"),
    "JSON string": Hostile(400, "invalid", b'"image"'),
    "preview of a decompression bomb": Hostile(
        400, "too_large", {"image": BOMB}, path=PREDICTIONS + "?preview=true"
    ),
}

# --- hostile-2: batch uploads -------------------------------------------------------------


def batch(status: int, code: str, body: Any = None, **kwargs: Any) -> Hostile:
    return Hostile(status, code, body, path=BATCHES, who="token", **kwargs)


def bad_array(data: bytes, name: str = "digits.npy") -> Hostile:
    return batch(400, "invalid_array", upload=(name, data))


def header(shape: str) -> str:
    return "{'descr': '|u1', 'fortran_order': False, 'shape': %s, }" % shape  # noqa: UP031


DIGIT_NPY = hostile.npy(hostile.digits(1))

BATCH_INPUTS: dict[str, Hostile] = {
    **{name: batch(status, code, body) for name, (body, status, code) in BAD_BATCHES.items()},
    "items: null": batch(400, "invalid", {"items": None}),
    "items: a string": batch(400, "invalid_items", {"items": "[]"}),
    "the body is a list": batch(400, "invalid", [{"pixels": INK}]),
    "items nested 5,000 deep": batch(
        400, "parse_error", b'{"items": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    ),
    "JSON over the batch limit": batch(
        413,
        "payload_too_large",
        {"items": [{"pixels": INK}] * 2000},
        settings={"BATCH_MAX_UPLOAD_BYTES": 1_000_000},
    ),
    "npy of float32": bad_array(hostile.npy(hostile.digits(2).astype("float32"))),
    "npy of 28x27 images": bad_array(hostile.npy(hostile.digits(2)[:, :, :27])),
    "npy of one image, not N": bad_array(hostile.npy(hostile.digits(1)[0])),
    "npy of 0 images": batch(400, "empty_batch", upload=("a.npy", hostile.npy(hostile.digits(0)))),
    "npy of 10,001 images": batch(
        400, "too_many_items", upload=("a.npy", hostile.npy(hostile.digits(MAX_ITEMS + 1)))
    ),
    "npy header claiming 10**12 images": batch(
        400,
        "too_many_items",
        upload=("a.npy", hostile.npy_with_header(header("(1000000000000, 28, 28)"))),
    ),
    "npy header claiming -1 images": bad_array(hostile.npy_with_header(header("(-1, 28, 28)"))),
    "npy shorter than its header says": bad_array(
        hostile.npy_with_header(header("(9, 28, 28)"), bytes(784))
    ),
    "npy format version 3": bad_array(
        hostile.npy_with_header(header("(1, 28, 28)"), bytes(784), version=b"\x03\x00")
    ),
    "npy header that is not Python": bad_array(hostile.npy_with_header("{'descr': '|u1', ((")),
    "npy header that calls a function": bad_array(
        hostile.npy_with_header(header("(1, 28, 28)").replace("'|u1'", "exec('1')"), bytes(784))
    ),
    "npy header of 9,000 parentheses": bad_array(hostile.npy_with_header("(" * 9000)),
    "npy header of 60 KB": bad_array(hostile.npy_with_header(" " * 60_000, version=b"\x02\x00")),
    "npy that is not one": bad_array(b"not numpy at all"),
    "npz of two arrays": bad_array(hostile.npz_of(a=DIGIT_NPY, b=DIGIT_NPY), "a.npz"),
    "npz of an array beside a 100 MB bomb": bad_array(
        hostile.zip_of({"bomb": bytes(100_000_000), "images.npy": DIGIT_NPY}), "a.npz"
    ),
    "npz that is not a ZIP": bad_array(b"PK\x03\x04 and then nothing", "a.npz"),
    "zip that is empty": batch(400, "empty_batch", upload=("a.zip", hostile.zip_of({}))),
    "zip of folders only": batch(
        400, "empty_batch", upload=("a.zip", hostile.zip_of({"a/": b"", "a/b/": b""}))
    ),
    "zip of 10,001 files": batch(
        400,
        "too_many_items",
        upload=("a.zip", hostile.zip_of({f"{n}.png": b"" for n in range(MAX_ITEMS + 1)})),
    ),
    "zip that is broken": batch(400, "invalid_zip", upload=("a.zip", b"PK\x03\x04 broken")),
    "zip with a name that is not UTF-8": batch(
        400, "invalid_zip", upload=("a.zip", hostile.zip_with_raw_name(b"\xff\xfe.png"))
    ),
    "zip needing ZIP version 9": batch(
        400, "invalid_zip", upload=("a.zip", hostile.zip_needing_version(9))
    ),
    "a pickle named .pkl": batch(400, "unsupported_format", upload=("a.pkl", b"\x80\x04K\x01.")),
    "an .exe": batch(400, "unsupported_format", upload=("a.exe", b"MZ" + bytes(100))),
    "an empty file": batch(400, "invalid", upload=("a.npy", b"")),
    "a file under another name": batch(
        400, "invalid", upload=("a.npy", DIGIT_NPY), upload_field="upload"
    ),
    "upload over the batch limit": batch(
        413,
        "payload_too_large",
        upload=("a.npy", hostile.npy(hostile.digits(50))),
        settings={"BATCH_MAX_UPLOAD_BYTES": 10_000},
    ),
}
PICKLES = {
    "npy of object dtype (a pickle that writes a file)": ("a.npy", hostile.pickle_bomb_npy),
    "npz of an object array (a pickle that writes a file)": ("a.npz", hostile.pickle_bomb_npz),
}
# Sound ZIPs of hostile items: accepted by design, every item refused by the worker.
ZIP_BOMBS = {
    "ZIP bomb: a member inflating to 50 MB": {},
    "ZIP bomb: a 50 MB member declaring 10 bytes": {"declared_size": 10},
}
ESCAPING_NAMES = "ZIP of names that climb out of the folder"

# --- hostile-3: text in every field, query parameter, id and header ------------------------

TEXTS = {
    "NUL": "a\x00b",
    "a lone surrogate": "\ud800",
    "control characters": "\x01\x1b[31m\x7f",
    "a right-to-left override": "\u202egnp.exe",
    "100,000 characters": "x" * 100_000,
    "HTML": "<script>alert(1)</script>",
    "SQL": "1' OR '1'='1' --",
    "a format string": "%s%n{0.__class__}",
    "a path": "../../../etc/passwd",
    "emoji": "\U0001f642" * 1000,
}
# Refused by the JSON parser itself; multipart cannot carry a lone surrogate.
NOT_TEXT = {"NUL", "a lone surrogate"}


def in_json(text_name: str, **request: Any) -> Hostile:
    if text_name in NOT_TEXT:
        return Hostile(400, "parse_error", **request)
    return Hostile(400, "invalid", **request)


def in_query(
    path: str, parameter: str, text: str, who: str, method: str, status: int, code: str
) -> Hostile:
    separator = "&" if "?" in path else "?"
    value = quote(text, safe="", errors="surrogatepass")
    if "%00" in value:
        # Refused before any view, whatever the parameter (mnistsite.security).
        status, code = 400, "parse_error"
    return Hostile(
        status, code, {"pixels": INK}, path=f"{path}{separator}{parameter}={value}", who=who,
        method=method,
    )  # fmt: skip


JSON_FIELDS = {
    "batch callback_url": lambda text: {
        "path": BATCHES, "who": "token", "body": {"items": [{"pixels": INK}], "callback_url": text}
    },
    "training preset": lambda text: {"path": JOBS, "who": "staff", "body": {"preset": text}},
    "training architecture": lambda text: {
        "path": JOBS, "who": "staff", "body": {"preset": "quick", "architecture": text}
    },
    "training schedule": lambda text: {"path": JOBS, "who": "staff", "body": {"schedule": text}},
    "training epochs": lambda text: {"path": JOBS, "who": "staff", "body": {"epochs": text}},
    "a training parameter's name": lambda text: {"path": JOBS, "who": "staff", "body": {text: 1}},
    "feedback label": lambda text: {"path": FEEDBACK, "who": "staff", "body": {"label": text}},
}  # fmt: skip
# (path, parameter, who, method, status, code)
QUERY_PARAMETERS = [
    (PREDICTIONS, "model_version", "anonymous", "post", 400, "invalid"),
    (PREDICTIONS, "include", "anonymous", "post", 400, "invalid"),
    (PREDICTIONS, "preview", "anonymous", "post", 400, "invalid"),
    (PREDICTIONS, "digit", "token", "get", 400, "invalid"),
    (PREDICTIONS, "source", "token", "get", 400, "invalid"),
    (PREDICTIONS, "feedback", "token", "get", 400, "invalid"),
    (PREDICTIONS, "model_version", "token", "get", 400, "invalid"),
    (PREDICTIONS, "created_after", "token", "get", 400, "invalid"),
    (PREDICTIONS, "created_before", "token", "get", 400, "invalid"),
    (PREDICTIONS, "page", "token", "get", 404, "not_found"),
    (JOBS, "status", "staff", "get", 400, "invalid"),
    (JOBS, "preset", "staff", "get", 400, "invalid"),
    (BATCHES + "{batch}/results/", "format", "token", "get", 404, "not_found"),
]
HUGE = 10**20  # beyond a 64-bit id
HUGE_IDS = [
    ("get", f"{BATCHES}{HUGE}/"),
    ("get", f"{BATCHES}{HUGE}/results/"),
    ("post", f"{BATCHES}{HUGE}/cancel/"),
    ("post", f"{PREDICTIONS}{HUGE}/feedback/"),
    ("get", f"{JOBS}{HUGE}/"),
    ("post", f"{JOBS}{HUGE}/cancel/"),
    ("get", f"/api/v1/models/{HUGE}/"),
    ("post", f"/api/v1/models/{HUGE}/activate/"),
]
AUTHORIZATION = {
    "a 10,000-character token": ("Token " + "a" * 10_000, "authentication_failed"),
    "a Latin-1 token": ("Token \u00e9\u00e9\u00e9", "authentication_failed"),
    "a token with a space": ("Token a b", "authentication_failed"),
    "no token after the keyword": ("Token", "authentication_failed"),
    "a token of HTML": ("Token <script>alert(1)</script>", "authentication_failed"),
    "another scheme": ("Basic YWRtaW46YWRtaW4=", "not_authenticated"),
}
CALLBACK_SCHEMES = [
    "javascript:alert(1)",
    "file:///etc/passwd",
    "ftp://example.org/x",
    "gopher://127.0.0.1:6379/_FLUSHALL",
    "data:text/html,<script>1</script>",
]

TEXT_INPUTS: dict[str, Hostile] = {
    **{
        f"{name}: {text_name}": in_json(text_name, **build(text))
        for name, build in JSON_FIELDS.items()
        for text_name, text in TEXTS.items()
    },
    **{
        f"{method.upper()} {path}?{parameter}=<{text_name}>": in_query(
            path, parameter, text, who, method, status, code
        )
        for path, parameter, who, method, status, code in QUERY_PARAMETERS
        for text_name, text in TEXTS.items()
    },
    # Other text is taken as it is: a ref longer than 200 fails its item only.
    **{
        f"batch ref: {text_name}": in_json(
            text_name, path=BATCHES, who="token", body={"items": [{"pixels": INK, "ref": text}]}
        )
        for text_name, text in TEXTS.items()
        if text_name in NOT_TEXT
    },
    # Other text is a valid reason.
    **{
        f"activation reason: {text_name}": in_json(
            text_name, path="/api/v1/models/1/activate/", who="staff", body={"reason": text}
        )
        for text_name, text in TEXTS.items()
        if text_name in {*NOT_TEXT, "100,000 characters"}
    },
    **{
        f"batch callback_url in a form: {text_name}": batch(
            400, "invalid", upload=("a.npy", DIGIT_NPY), form={"callback_url": text}
        )
        for text_name, text in TEXTS.items()
        if text_name != "a lone surrogate"
    },
    **{
        f"batch callback_url, callbacks on: {url}": batch(
            400,
            "invalid",
            {"items": [{"pixels": INK}], "callback_url": url},
            settings={"BATCH_CALLBACKS_ENABLED": True},
        )
        for url in CALLBACK_SCHEMES
    },
    **{
        f"feedback label: {value!r}": Hostile(400, "invalid", {"label": value}, FEEDBACK, "staff")
        for value in (-1, 10, 7.5, None, [], {}, True, 10**100)
    },
    **{
        f"{method.upper()} {path}": Hostile(404, "not_found", {}, path, "staff", method)
        for method, path in HUGE_IDS
    },
    **{
        f"Authorization: {name}": Hostile(
            401, code, path=BATCHES, method="get", meta={"HTTP_AUTHORIZATION": value}
        )
        for name, (value, code) in AUTHORIZATION.items()
    },
}

GROUPS = {
    "hostile-1": ("Hostile prediction inputs to the API", PREDICTION_INPUTS),
    "hostile-2": ("Hostile batch uploads to the API", BATCH_INPUTS),
    "hostile-3": ("Hostile text in API fields, query parameters, ids and headers", TEXT_INPUTS),
}
