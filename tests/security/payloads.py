"""Hostile bytes: images, arrays and archives built to break a parser, to
inflate, to escape a folder or to run code when unpickled."""

import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from tests.harness.canvas import ONE, canvas_png


def image_bytes(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header claims a huge image."""
    data = bytearray(image_bytes(Image.new("L", (16, 16), 255), "JPEG"))
    frame = data.index(b"\xff\xc0")
    data[frame + 5 : frame + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def npy_with_header(header: str, data: bytes = b"", version: bytes = b"\x01\x00") -> bytes:
    """A .npy whose header text is whatever the attacker wrote."""
    encoded = header.encode("latin1")
    length = struct.pack("<H" if version == b"\x01\x00" else "<I", len(encoded))
    return b"\x93NUMPY" + version + length + encoded + data


def digits(count: int) -> np.ndarray:
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    images[:, 8:20, 12:16] = 255
    return images


def zip_of(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def npz_of(**members: bytes) -> bytes:
    """An .npz is a ZIP of .npy files: members given as raw bytes."""
    return zip_of({f"{name}.npy": data for name, data in members.items()})


class CreatesFileWhenUnpickled:
    """Unpickling this opens `path` for writing: if the file exists after a
    request, the server unpickled the upload."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def pickle_bomb_npy(path: Path) -> bytes:
    """A .npy of object dtype whose data is a pickle that creates `path`."""
    return npy(np.array([CreatesFileWhenUnpickled(path)], dtype=object))


def zip_bomb(inflated_bytes: int, *, declared_size: int | None = None) -> bytes:
    """One PNG-looking member of `inflated_bytes` zeros (about a thousandth of
    that on the wire); `declared_size` makes the archive lie about it."""
    payload = bytearray(zip_of({"bomb.png": b"\x89PNG\r\n\x1a\n" + bytes(inflated_bytes)}))
    if declared_size is not None:
        central = payload.rfind(b"PK\x01\x02")
        payload[central + 24 : central + 28] = declared_size.to_bytes(4, "little")
        local = payload.find(b"PK\x03\x04")
        payload[local + 22 : local + 26] = declared_size.to_bytes(4, "little")
    return bytes(payload)


def zip_with_raw_name(raw_name: bytes) -> bytes:
    """A ZIP whose member name is `raw_name` flagged as UTF-8 (bit 11), e.g.
    bytes that are not UTF-8."""
    placeholder = b"N" * len(raw_name)
    data = bytearray(zip_of({placeholder.decode(): canvas_png(ONE)}))
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        data[at + flags_at + 1] |= 0x08
    return bytes(data).replace(placeholder, raw_name)


def zip_needing_version(major: int) -> bytes:
    """A ZIP whose member needs a newer ZIP version to extract than exists."""
    data = bytearray(zip_of({"a.png": canvas_png(ONE)}))
    central = data.find(b"PK\x01\x02")
    data[central + 6] = major * 10
    return bytes(data)


def pickle_bomb_npz(path: Path) -> bytes:
    """The same pickle as the one array of an .npz."""
    return npz_of(images=pickle_bomb_npy(path))


def png_with_chunk(png: bytes, kind: bytes, data: bytes) -> bytes:
    """`png` with one more chunk before its end (decoders skip ancillary ones)."""
    chunk = kind + data
    packed = struct.pack(">I", len(data)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    end = png.rindex(b"IEND") - 4
    return png[:end] + packed + png[end:]
