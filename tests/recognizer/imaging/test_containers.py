"""Batch containers -> items (no Django, no database)."""

import io
import json
import zipfile

import numpy as np
import pytest

from recognizer.imaging.containers import (
    MAX_ITEMS,
    BatchInputError,
    batch_inspect,
    batch_items,
    json_payload,
)
from recognizer.imaging.decoding import ImageLimits
from tests.harness.canvas import ONE, SEVEN, canvas_png

LIMITS = ImageLimits()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def digits(count: int) -> np.ndarray:
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    images[:, 8:20, 12:16] = 255
    return images


def test_a_json_list_yields_each_item_with_its_ref_and_error():
    import base64

    items = [
        {"image": base64.b64encode(canvas_png(ONE)).decode(), "ref": "a"},
        {"pixels": digits(1)[0].tolist(), "ref": "b"},
        {"image": "%%%", "ref": "c"},
        "not an object",
        {"image": "x", "pixels": [], "ref": "e"},
        {"pixels": [[0] * 28] * 28},
    ]
    payload = json_payload(items)

    assert batch_inspect(payload, "json", max_unpacked=2**28) == 6
    results = list(batch_items(payload, "json", LIMITS))
    assert [item.ref for item in results] == ["a", "b", "c", "", "e", ""]
    assert [item.error.code if item.error else None for item in results] == [
        None, None, "invalid_base64", "invalid_item", "invalid_item", "no_ink",
    ]  # fmt: skip
    assert results[0].digit_input.image_format == "PNG"


@pytest.mark.parametrize("items", [{}, "a", 3, None])
def test_json_items_must_be_a_list(items):
    with pytest.raises(BatchInputError, match="list"):
        json_payload(items)


def test_an_empty_or_oversized_batch_is_refused():
    with pytest.raises(BatchInputError) as empty:
        json_payload([])
    with pytest.raises(BatchInputError) as too_many:
        json_payload([{}] * (MAX_ITEMS + 1))

    assert empty.value.code == "empty_batch"
    assert too_many.value.code == "too_many_items"


def test_an_npy_array_yields_one_item_per_image():
    payload = npy(digits(3))

    assert batch_inspect(payload, "npy", max_unpacked=2**28) == 3
    results = list(batch_items(payload, "npy", LIMITS))
    assert [item.index for item in results] == [0, 1, 2]
    assert all(item.digit_input.image_format == "pixels" for item in results)


def test_an_npz_with_one_array_is_read():
    payload = npz(images=digits(4))

    assert batch_inspect(payload, "npz", max_unpacked=2**28) == 4
    assert len(list(batch_items(payload, "npz", LIMITS))) == 4


@pytest.mark.parametrize(
    "payload, message",
    [
        (npy(np.zeros((2, 28, 28), dtype=np.float32)), "uint8"),
        (npy(np.zeros((2, 28, 27), dtype=np.uint8)), "N x 28 x 28"),
        (npy(np.zeros((28, 28), dtype=np.uint8)), "N x 28 x 28"),
        (npy(np.array([{"a": 1}, None], dtype=object)), "uint8"),
        (b"\x93NUMPY garbage", "version"),
        (b"not numpy at all", "readable"),
    ],
    ids=["float32", "28x27", "one image", "object dtype", "broken header", "not npy"],
)
def test_a_wrong_npy_is_refused_without_unpickling(payload, message):
    with pytest.raises(BatchInputError, match=message) as refused:
        batch_inspect(payload, "npy", max_unpacked=2**28)

    assert refused.value.code == "invalid_array"


def test_an_npz_with_two_arrays_is_refused():
    with pytest.raises(BatchInputError, match="exactly one array"):
        batch_inspect(npz(a=digits(1), b=digits(1)), "npz", max_unpacked=2**28)


def test_a_zip_of_pngs_yields_items_named_by_file_with_per_file_errors():
    payload = zip_of(
        {
            "one.png": canvas_png(ONE),
            "seven.png": canvas_png(SEVEN),
            "notes.txt": b"hello",
            "../../etc/passwd.png": canvas_png(ONE),
            "/absolute.png": canvas_png(ONE),
        }
    )

    assert batch_inspect(payload, "zip", max_unpacked=2**28) == 5
    results = list(batch_items(payload, "zip", LIMITS))
    assert [item.ref for item in results][:2] == ["one.png", "seven.png"]
    assert [item.error.code if item.error else None for item in results] == [
        None, None, "not_an_image", "invalid_name", "invalid_name",
    ]  # fmt: skip


def test_a_zip_bomb_member_stops_at_the_image_limit():
    payload = zip_of({"bomb.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 2_000_000})
    small = ImageLimits(max_bytes=100_000)

    (item,) = batch_items(payload, "zip", small)

    assert item.error.code == "too_large"
    assert len(payload) < 10_000  # two megabytes of zeros compress to almost nothing


def test_a_zip_whose_member_lies_about_its_size_is_read_with_a_cap():
    payload = bytearray(zip_of({"liar.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 500_000}))
    # Patch the declared uncompressed size (central directory) down to 10 bytes.
    central = payload.rfind(b"PK\x01\x02")
    payload[central + 24 : central + 28] = (10).to_bytes(4, "little")
    small = ImageLimits(max_bytes=100_000)

    (item,) = batch_items(bytes(payload), "zip", small)

    assert item.error is not None and item.error.code in {"too_large", "corrupt"}


def test_a_broken_zip_is_refused():
    with pytest.raises(BatchInputError) as refused:
        batch_inspect(b"PK\x03\x04 broken", "zip", max_unpacked=2**28)

    assert refused.value.code == "invalid_zip"


def test_items_already_done_are_skipped():
    payload = npy(digits(5))

    results = list(batch_items(payload, "npy", LIMITS, skip=frozenset({0, 1, 3})))

    assert [item.index for item in results] == [2, 4]


def test_json_payload_round_trips_compactly():
    payload = json_payload([{"pixels": [[0] * 28] * 28, "ref": "x"}])

    assert json.loads(payload)[0]["ref"] == "x"
    assert b" " not in payload
