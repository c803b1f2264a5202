"""The IDX format MNIST is distributed in: decode, and encode back (so that a
source in another container, such as mnist.npz, can be verified against the
checksums of the raw IDX files)."""

import struct

import numpy as np

_UBYTE = 0x08


def decode_idx(data: bytes) -> np.ndarray:
    """Raw IDX bytes -> uint8 array. Raises ValueError when the bytes are not a
    complete unsigned-byte IDX file."""
    if len(data) < 4:
        raise ValueError("too short to be an IDX file")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != _UBYTE or not 1 <= ndim <= 4:
        raise ValueError("not an unsigned-byte IDX file")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError("IDX header is truncated")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise ValueError(f"IDX file has {len(data)} bytes, its header promises {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def encode_idx(array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, _UBYTE, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    return header + array.tobytes()
