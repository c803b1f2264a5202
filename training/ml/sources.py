"""Fetching a data set from the first of several sources that verifies: the
part MNIST (datasets.py) and the pen-drawn digits (pendigits.py) share. No
Django.

A source is a label and a function returning the data set's bytes, or raising
SourceFailed (Skipped when it was not configured). `first_verified` tries them
in order and reports each outcome, so that the error when all fail
(NoSourceWorked) says what was tried and why each failed.
"""

import gzip
import http.client
import io
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

Progress = Callable[[int, int | None], None]
T = TypeVar("T")

_CHUNK = 256 * 1024


class SourceFailed(Exception):
    """This source gave nothing usable; the message says why."""


class Skipped(SourceFailed):
    """This source is not configured."""


class NoSourceWorked(Exception):
    """Every source failed; `failures` has a line for each, saying why."""

    def __init__(self, failures: list[str]) -> None:
        super().__init__("; ".join(failures))
        self.failures = failures

    def bulleted(self) -> str:
        """One "  - ..." line per failed source, for a message that goes on."""
        return "".join(f"  - {failure}\n" for failure in self.failures)


def first_verified(
    sources: dict[str, Callable[[], T]], *, log: Callable[[str], None]
) -> tuple[str, T]:
    """(label, data) of the first source whose function returns. Raises
    NoSourceWorked when every one raised SourceFailed."""
    failures = []
    for label, read in sources.items():
        try:
            return label, read()
        except SourceFailed as exc:
            outcome = "skipped" if isinstance(exc, Skipped) else "failed"
            failures.append(f"{label}: {outcome}: {exc}")
            log(failures[-1])
    raise NoSourceWorked(failures)


def read_file(path: Path, *, max_bytes: int) -> bytes:
    """A file's bytes, decompressed when it is a .gz; reading stops past max_bytes."""
    try:
        with gzip.open(path) if path.suffix == ".gz" else path.open("rb") as file:
            data = file.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as exc:
        # Truncated gzip ends in EOFError, a corrupt one in BadGzipFile (OSError).
        raise SourceFailed(f"{path.name} is unreadable: {exc}") from exc
    if len(data) > max_bytes:
        raise SourceFailed(f"{path.name} is larger than {max_bytes:,} bytes")
    return data


def gunzip(data: bytes, *, max_bytes: int) -> bytes:
    """Decompress gzip data, refused past max_bytes (a small bomb stays small)."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as file:
            out = file.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceFailed(f"not readable as gzip: {exc}") from exc
    if len(out) > max_bytes:
        raise SourceFailed(f"the gzip stream holds more than {max_bytes:,} bytes")
    return out


def download(
    url: str, *, timeout: float, max_bytes: int, progress: Progress | None = None
) -> bytes:
    """The body at `url` (http or https only), refused past max_bytes."""
    if not url.startswith(("https://", "http://")):
        raise SourceFailed("only http(s) URLs are downloaded")
    received = bytearray()
    try:
        # The timeout bounds the connect and each read, so a dead network fails fast.
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (scheme checked)
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if total is not None and total > max_bytes:
                raise SourceFailed(f"the download is {total:,} bytes, over {max_bytes:,}")
            if progress:
                progress(0, total)
            while chunk := response.read(_CHUNK):
                received += chunk
                if len(received) > max_bytes:
                    raise SourceFailed(f"the download is larger than {max_bytes:,} bytes")
                if progress:
                    progress(len(received), total)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # A bare URLError's reason reads better; an HTTPError's own text has the status.
        reason = exc.reason if type(exc) is urllib.error.URLError else exc
        raise SourceFailed(f"download failed: {reason}") from exc
    if total is not None and len(received) != total:
        raise SourceFailed(f"the download stopped at {len(received)} of {total} bytes")
    return bytes(received)


def unreachable(url: str, *, timeout: float) -> str | None:
    """None when a HEAD request for `url` succeeds; otherwise why not."""
    if not url.startswith(("https://", "http://")):
        return "only http(s) URLs are tried"
    request = urllib.request.Request(url, method="HEAD")  # noqa: S310 (scheme checked)
    try:
        with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310
            return None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        reason = exc.reason if type(exc) is urllib.error.URLError else exc
        return f"not reachable: {reason}"


def unlzw(data: bytes, *, max_bytes: int) -> bytes:
    """Decompress Unix `compress` (.Z) data, the format the UCI archive keeps
    its original pen-drawn digit files in; Python's library has no reader.

    The stream: magic 1F 9D, a flags byte (maximum code width; 0x80: block
    mode, code 256 clears the table), then LZW codes packed least significant
    bit first, 9 bits wide and growing by one each time the table fills. The
    encoder writes codes in groups of eight, so a group is padded out to its
    full size (eight codes of the old width) whenever the width changes.
    """
    if len(data) < 3 or data[:2] != b"\x1f\x9d":
        raise SourceFailed("not a .Z (compress) stream")
    max_width, block_mode = data[2] & 0x1F, bool(data[2] & 0x80)
    if not 9 <= max_width <= 16:
        raise SourceFailed(f".Z stream with an unsupported code width {max_width}")
    table = [bytes([i]) for i in range(256)] + ([b""] if block_mode else [])
    out, previous = bytearray(), b""
    width, position, group_start = 9, 24, 24  # positions in bits
    total_bits = len(data) * 8
    padded = data + b"\0\0"  # a code (16 bits at most) spans three bytes at most
    mask = (1 << width) - 1
    while position + width <= total_bits:
        at = position >> 3
        code = (int.from_bytes(padded[at : at + 3], "little") >> (position & 7)) & mask
        position += width
        if block_mode and code == 256:
            table, previous = table[:257], b""
            position = _group_end(group_start, position, width)
            width, mask, group_start = 9, (1 << 9) - 1, position
            continue
        if code < len(table):
            entry = table[code]
        elif code == len(table) and previous:
            entry = previous + previous[:1]
        else:
            raise SourceFailed(".Z stream is corrupt (a code before its table entry)")
        out += entry
        if len(out) > max_bytes:
            raise SourceFailed(f"the .Z stream holds more than {max_bytes:,} bytes")
        if previous and len(table) < (1 << max_width):
            table.append(previous + entry[:1])
        previous = entry
        if len(table) >= (1 << width) and width < max_width:
            position = _group_end(group_start, position, width)
            width += 1
            mask, group_start = (1 << width) - 1, position
    return bytes(out)


def _group_end(group_start: int, position: int, width: int) -> int:
    """Where the group of eight `width`-bit codes holding `position` ends."""
    group = width * 8
    return group_start + -(-(position - group_start) // group) * group
