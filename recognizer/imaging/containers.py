"""A batch upload -> its items, one at a time. No Django here.

Three containers are accepted: a JSON list of items (each a base64 / data URL
`image` or a 28x28 `pixels` array, with an optional `ref`), a `.npy` / `.npz`
array of N x 28 x 28 uint8 (MNIST convention), or a ZIP of PNG files.

`batch_inspect` checks the container when the batch is created (a wrong
container is a 400 and nothing is stored) and counts its items without
decoding any image; `batch_items` is what the worker iterates. Each item is
decoded separately, so one bad item becomes that item's error and never fails
the batch.
"""

import io
import json
import tokenize
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from recognizer.imaging.decoding import ImageLimits, PreprocessingError
from recognizer.imaging.inputs import (
    DigitInput,
    input_from_base64,
    input_from_image_bytes,
    input_from_pixels,
    input_from_uint8_image,
)

MAX_ITEMS = 10_000
MAX_REF_LENGTH = 200
# A batch item's upload is kept as sent up to this size, else as a small grey
# PNG (imaging/inputs.py): a worker holds two chunks of items in memory and
# every item becomes a stored submission, so neither may grow with the upload.
KEEP_ORIGINAL_BYTES = 64 * 1024
# What numpy and zipfile raise on malformed containers besides their own
# errors: a header that is not Python (SyntaxError, tokenize.TokenError), a
# broken deflate stream (zlib.error), an unknown ZIP version or compression
# (NotImplementedError), an encrypted member (RuntimeError), a name that is
# not UTF-8 (UnicodeDecodeError, a ValueError), a bad offset (ValueError).
# Found by fuzzing the containers.
_UNREADABLE = (
    ValueError, SyntaxError, tokenize.TokenError, zlib.error, NotImplementedError, RuntimeError,
    zipfile.BadZipFile, OSError, EOFError,
)  # fmt: skip


class BatchInputError(ValueError):
    """The container is wrong: the whole upload is refused (400)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class BatchItem:
    index: int
    ref: str
    digit_input: DigitInput | None
    error: PreprocessingError | None


def json_payload(items: object) -> bytes:
    """The JSON request's `items`, checked to be a list of the right length,
    stored compactly for the worker."""
    if not isinstance(items, list):
        raise BatchInputError("invalid_items", "items must be a list.")
    _check_count(len(items))
    return json.dumps(items, separators=(",", ":")).encode()


def batch_inspect(payload: bytes, input_format: str, *, max_unpacked: int) -> int:
    """Check the container and return how many items it holds. A ZIP whose
    files add up to more than `max_unpacked` bytes is refused: ZIP's sizes
    cannot lie (Python's zipfile stops at the stated size, and the checksum
    then fails), so this bounds what its reading can ever produce."""
    if input_format == "json":
        return len(json.loads(payload))
    if input_format in ("npy", "npz"):
        count = _array_header(payload, input_format)[0]
        _check_count(count)
        # The data must be all there, not only a header that says so; the
        # count is checked first, so this reads at most MAX_ITEMS images.
        _load_array(payload, input_format)
        return count
    if input_format != "zip":
        raise BatchInputError("unsupported_format", f"Unknown batch format {input_format!r}.")
    members = _zip_members(payload)
    _check_count(len(members))
    unpacked = sum(member.file_size for member in members)
    if unpacked > max_unpacked:
        raise BatchInputError(
            "batch_too_large",
            f"The ZIP's files add up to {unpacked:,} bytes unpacked; the limit is "
            f"{max_unpacked:,} (BATCH_MAX_UNPACKED_BYTES).",
        )
    return len(members)


def batch_items(
    payload: bytes, input_format: str, limits: ImageLimits, *, skip: frozenset[int] = frozenset()
) -> Iterator[BatchItem]:
    """Every item in order, decoded; items whose index is in `skip` (already
    done by an earlier delivery) are passed over without decoding."""
    if input_format == "json":
        for index, raw in enumerate(json.loads(payload)):
            if index not in skip:
                yield _json_item(index, raw, limits)
    elif input_format in ("npy", "npz"):
        images = _load_array(payload, input_format)
        for index in range(len(images)):
            if index not in skip:
                yield _decoded(index, "", lambda index=index: input_from_uint8_image(images[index]))
    elif input_format == "zip":
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            for index, member in enumerate(_zip_members(payload, archive)):
                if index not in skip:
                    yield _zip_item(index, archive, member, limits)


def _check_count(count: int) -> None:
    if count == 0:
        raise BatchInputError("empty_batch", "The batch holds no items.")
    if count > MAX_ITEMS:
        raise BatchInputError(
            "too_many_items", f"The batch holds {count} items; the limit is {MAX_ITEMS}."
        )


def _decoded(index: int, ref: str, decode: Callable[[], DigitInput]) -> BatchItem:
    try:
        return BatchItem(index, ref, decode(), None)
    except PreprocessingError as exc:
        return BatchItem(index, ref, None, exc)


def _json_item(index: int, raw: object, limits: ImageLimits) -> BatchItem:
    if not isinstance(raw, dict):
        return BatchItem(
            index, "", None, PreprocessingError("invalid_item", "An item must be an object.")
        )
    ref = raw.get("ref", "")
    if not isinstance(ref, str) or len(ref) > MAX_REF_LENGTH:
        error = PreprocessingError(
            "invalid_item", f"ref must be a string of at most {MAX_REF_LENGTH} characters."
        )
        return BatchItem(index, "", None, error)
    if ("image" in raw) == ("pixels" in raw):
        error = PreprocessingError("invalid_item", "An item holds exactly one of image or pixels.")
        return BatchItem(index, ref, None, error)
    if "pixels" in raw:
        return _decoded(index, ref, lambda: input_from_pixels(raw["pixels"]))
    if not isinstance(raw["image"], str):
        error = PreprocessingError("invalid_item", "image must be a base64 string or a data URL.")
        return BatchItem(index, ref, None, error)
    return _decoded(
        index, ref, lambda: input_from_base64(raw["image"], limits, keep_up_to=KEEP_ORIGINAL_BYTES)
    )


def _array_header(payload: bytes, input_format: str) -> tuple[int, ...]:
    """The array's shape, read from its header only; never unpickles."""
    try:
        if input_format == "npz":
            with zipfile.ZipFile(io.BytesIO(payload)) as archive:
                # Nothing beside the array: np.load would read another member
                # whole, however large it inflates.
                names = archive.namelist()
                if len(names) != 1 or not names[0].endswith(".npy"):
                    raise BatchInputError(
                        "invalid_array", "The .npz must hold exactly one array (N x 28 x 28 uint8)."
                    )
                with archive.open(names[0]) as stream:
                    return _npy_header(stream)
        return _npy_header(io.BytesIO(payload))
    except BatchInputError:
        raise
    except _UNREADABLE as exc:
        raise _unreadable_array(input_format, exc) from exc


def _unreadable_array(input_format: str, exc: Exception) -> BatchInputError:
    # numpy's messages quote the header: only the kind of error is answered.
    return BatchInputError(
        "invalid_array",
        f"Not a readable .{input_format} array: its header or data is broken or cut short "
        f"({type(exc).__name__}).",
    )


def _npy_header(stream: BinaryIO) -> tuple[int, ...]:
    version = np.lib.format.read_magic(stream)
    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    if version not in readers:
        raise BatchInputError("invalid_array", f".npy format version {version} is not accepted.")
    shape, _, dtype = readers[version](stream)
    if dtype != np.uint8 or dtype.hasobject:
        raise BatchInputError("invalid_array", f"The array's type is {dtype}; it must be uint8.")
    if len(shape) != 3 or shape[1:] != (28, 28):
        raise BatchInputError(
            "invalid_array", f"The array's shape is {shape}; it must be N x 28 x 28."
        )
    return shape


def _load_array(payload: bytes, input_format: str) -> np.ndarray:
    _array_header(payload, input_format)
    try:
        if input_format == "npz":
            with np.load(io.BytesIO(payload), allow_pickle=False) as archive:
                return archive[archive.files[0]]
        return np.load(io.BytesIO(payload), allow_pickle=False)
    except _UNREADABLE as exc:
        raise _unreadable_array(input_format, exc) from exc


def _zip_members(payload: bytes, archive: zipfile.ZipFile | None = None) -> list[zipfile.ZipInfo]:
    """The ZIP's files (folders left out), in archive order."""
    try:
        own = archive or zipfile.ZipFile(io.BytesIO(payload))
    except _UNREADABLE as exc:
        raise BatchInputError("invalid_zip", f"Not a readable ZIP file: {exc}") from exc
    return [member for member in own.infolist() if not member.is_dir()]


def _zip_item(
    index: int, archive: zipfile.ZipFile, member: zipfile.ZipInfo, limits: ImageLimits
) -> BatchItem:
    """One file of the ZIP. Its name is only a label: nothing is written to
    disk, so a name like ../../etc/passwd is harmless, but it is refused as
    an item all the same. Read with a cap, so a member that lies about its
    size (a zip bomb) stops at the image limit."""
    ref = member.filename[:MAX_REF_LENGTH]
    if member.filename.startswith(("/", "\\")) or ".." in member.filename.replace("\\", "/").split(
        "/"
    ):
        return BatchItem(
            index,
            ref,
            None,
            PreprocessingError("invalid_name", "The file name leaves the archive's folder."),
        )
    if member.file_size > limits.max_bytes:
        return BatchItem(
            index,
            ref,
            None,
            PreprocessingError("too_large", f"The file is over {limits.max_bytes} bytes."),
        )
    try:
        with archive.open(member) as stream:
            data = stream.read(limits.max_bytes + 1)
    except _UNREADABLE as exc:
        return BatchItem(
            index,
            ref,
            None,
            PreprocessingError("corrupt", f"The file cannot be read from the ZIP: {exc}"),
        )
    if len(data) > limits.max_bytes:
        return BatchItem(
            index,
            ref,
            None,
            PreprocessingError("too_large", f"The file is over {limits.max_bytes} bytes."),
        )
    return _decoded(
        index, ref, lambda: input_from_image_bytes(data, limits, keep_up_to=KEEP_ORIGINAL_BYTES)
    )
