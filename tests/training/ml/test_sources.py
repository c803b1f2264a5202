"""The parts of fetching that MNIST and the pen-drawn digits share: trying
sources in order, bounded reads, and the .Z (Unix compress) reader that UCI's
archive needs, checked against gzip's own decoder."""

import gzip
import random
import subprocess

import pytest

from training.ml.sources import (
    NoSourceWorked,
    Skipped,
    SourceFailed,
    first_verified,
    gunzip,
    unlzw,
)


def lzw_compress(data: bytes, *, max_width: int = 16, clear_after: int | None = None) -> bytes:
    """A Unix `compress` encoder (block mode), enough to make test streams:
    codes packed least significant bit first, 9 bits wide and one wider each
    time the table fills, each group of eight codes padded out when the width
    changes; optionally a CLEAR (256) every `clear_after` codes."""
    out = bytearray(b"\x1f\x9d" + bytes([0x80 | max_width]))
    bits = count = 0  # pending bits, and how many
    written = 0  # bits written since the current group started

    def put(code: int, width: int) -> None:
        nonlocal bits, count, written
        bits |= code << count
        count += width
        written += width
        while count >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            count -= 8

    def end_group(width: int) -> None:
        nonlocal written
        put(0, -written % (width * 8))
        written = 0

    table: dict[tuple[int, int], int] = {}
    next_code, width, emitted = 257, 9, 0
    current = data[0]
    for byte in data[1:]:
        if (current, byte) in table:
            current = table[current, byte]
            continue
        put(current, width)
        emitted += 1
        if clear_after and emitted % clear_after == 0:
            put(256, width)
            end_group(width)
            table, next_code, width = {}, 257, 9
        elif next_code < (1 << max_width):
            table[current, byte] = next_code
            next_code += 1
            if next_code > (1 << width) and width < max_width:
                end_group(width)
                width += 1
        current = byte
    put(current, width)
    if count:
        out.append(bits & 0xFF)
    return bytes(out)


def sample_bytes() -> bytes:
    rng = random.Random(0)
    text = b"".join(
        f" {rng.randint(0, 500)} {rng.randint(0, 500)}\n".encode() for _ in range(30000)
    )
    return text + bytes(rng.randrange(256) for _ in range(70000))  # fills the 16-bit table


@pytest.mark.parametrize("clear_after", [None, 20000], ids=["growing", "with-clear-codes"])
def test_unlzw_reads_what_gzip_reads_from_a_compress_stream(clear_after):
    data = sample_bytes()
    stream = lzw_compress(data, clear_after=clear_after)
    reference = subprocess.run(["gzip", "-dc"], input=stream, capture_output=True, check=True)

    assert reference.stdout == data  # the test's encoder writes real .Z streams
    assert unlzw(stream, max_bytes=len(data)) == data


def test_unlzw_refuses_output_past_its_bound_and_streams_that_are_not_Z():
    stream = lzw_compress(b"ab" * 10000)

    with pytest.raises(SourceFailed, match="more than 1,000 bytes"):
        unlzw(stream, max_bytes=1000)
    with pytest.raises(SourceFailed, match=r"not a \.Z"):
        unlzw(gzip.compress(b"abc"), max_bytes=1000)
    with pytest.raises(SourceFailed, match="corrupt"):
        unlzw(b"\x1f\x9d\x90" + b"\xff\xff\xff\xff", max_bytes=1000)


def test_gunzip_is_bounded_so_a_small_bomb_stays_small():
    bomb = gzip.compress(b"\0" * 10_000_000)

    with pytest.raises(SourceFailed, match="more than 1,000,000 bytes"):
        gunzip(bomb, max_bytes=1_000_000)
    assert gunzip(gzip.compress(b"digits"), max_bytes=100) == b"digits"


def test_the_first_source_that_works_wins_and_every_failure_is_reported():
    def skipped() -> bytes:
        raise Skipped("none given")

    def broken() -> bytes:
        raise SourceFailed("sha256 mismatch")

    lines: list[str] = []
    found = first_verified({"a": skipped, "b": broken, "c": lambda: b"ok"}, log=lines.append)

    assert found == ("c", b"ok")
    assert lines == ["a: skipped: none given", "b: failed: sha256 mismatch"]
    with pytest.raises(NoSourceWorked) as failure:
        first_verified({"a": skipped, "b": broken}, log=lines.append)
    assert failure.value.failures == ["a: skipped: none given", "b: failed: sha256 mismatch"]
