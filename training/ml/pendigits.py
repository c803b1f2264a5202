"""The UCI pen-drawn digits ("Pen-Based Recognition of Handwritten Digits",
7,494 digits by 30 writers, as pen trajectories): fetch from the first source
that verifies, cache, load, and split by writer. No Django.

Only the training writers' file, `pendigits-orig.tra`, is ever read: UCI's
separate test writers (`pendigits-orig.tes`) are not used for anything here.
What a source delivers is checked against the sha256 of the uncompressed file
before anything is cached; the cache is verified again on every load.

Six of the 30 writers are held out (HELD_OUT_WRITERS): no model trains on
them, and every model version is scored on their digits rendered as the
drawing page draws them (its *canvas accuracy*), so the score says how a
model reads people it never saw.
"""

import io
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from training.ml.evaluation import evaluate_model
from training.ml.files import atomic_write_bytes, sha256_bytes, sha256_file
from training.ml.pen_canvas import AS_DRAWN, render_digits
from training.ml.sources import (
    NoSourceWorked,
    Progress,
    Skipped,
    SourceFailed,
    download,
    first_verified,
    gunzip,
    unlzw,
    unreachable,
)
from training.ml.unipen import PenDigit, parse_unipen

FILE_NAME = "pendigits-orig.tra"
SHA256 = "a66225d68d7d68591e62944df1ad33b3f5aa608e2df2505844b41f5568a80da4"
UCI_URL = (
    "https://archive.ics.uci.edu/static/public/81/pen+based+recognition+of+handwritten+digits.zip"
)
UCI_MEMBER = "pendigits-orig.tra.Z"  # in UCI's zip, Unix-compressed
# The file is 3.6 MB and UCI's zip 1.7 MB; far more is something else.
_MAX_BYTES = 32 * 1024 * 1024

# Writers 5, 10, ..., 30: every fifth, so the held-out writers are spread over
# the order in which the data were collected. Fixed: changing it changes every
# version's canvas score.
HELD_OUT_WRITERS = frozenset({5, 10, 15, 20, 25, 30})
# The canvas set is the held-out writers' digits, each drawn once as the page
# would (training/ml/pen_canvas.py AS_DRAWN) with this seed.
CANVAS_SEED = 20261130


class PendigitsUnavailable(RuntimeError):
    """No source gave a file that verifies."""


class PendigitsNotCached(RuntimeError):
    """The cache lacks the file, or holds one that does not verify."""


@dataclass(frozen=True, eq=False)
class PendigitsData:
    digits: list[PenDigit]
    sha256: str

    def training_digits(self) -> list[PenDigit]:
        return [d for d in self.digits if d.writer not in HELD_OUT_WRITERS]

    def held_out_digits(self) -> list[PenDigit]:
        return [d for d in self.digits if d.writer in HELD_OUT_WRITERS]

    @cached_property
    def canvas_set(self) -> "CanvasSet":
        return canvas_set(self)


@dataclass(frozen=True, eq=False)
class CanvasSet:
    """The held-out writers' digits as the model sees them from the page."""

    images: np.ndarray  # (N, 28, 28) uint8, MNIST convention
    labels: np.ndarray  # (N,) uint8
    # Of the images and labels: versions' canvas scores compare only when equal.
    sha256: str


@dataclass(frozen=True)
class CanvasScore:
    """A model's numbers on a canvas set, and which set it was."""

    accuracy: float
    per_class_accuracy: list[float]
    confusion_matrix: list[list[int]]
    set_sha256: str


def canvas_set(data: PendigitsData) -> CanvasSet:
    images, labels = render_digits(data.held_out_digits(), variation=AS_DRAWN, seed=CANVAS_SEED)
    return CanvasSet(images, labels, sha256_bytes(images.tobytes() + labels.tobytes()))


def canvas_score(model: Any, canvas: CanvasSet) -> CanvasScore:
    evaluation = evaluate_model(model, canvas.images / 255.0, canvas.labels)
    return CanvasScore(
        accuracy=evaluation.accuracy,
        per_class_accuracy=evaluation.per_class_accuracy,
        confusion_matrix=evaluation.confusion_matrix,
        set_sha256=canvas.sha256,
    )


def fetch_pendigits(
    cache_dir: Path,
    *,
    local_dir: Path | None = None,
    log: Callable[[str], None] = print,
    progress: Progress | None = None,
    url: str = UCI_URL,
    timeout: float = 10.0,
) -> Path:
    """Make `cache_dir` hold the verified `pendigits-orig.tra`; return the file.

    A cached file that verifies is kept. Otherwise try the local folder (the
    file as is, .gz or .Z, or UCI's zip), then UCI's download; the first whose
    file verifies is cached atomically. Nothing is written from a failed one."""
    target = Path(cache_dir) / FILE_NAME
    if target.is_file() and sha256_file(target) == SHA256:
        log(f"pen-drawn digits: {target} verifies, nothing to fetch")
        return target
    log(f"pen-drawn digits: {target} is {'corrupt' if target.exists() else 'missing'}; fetching")

    def local() -> bytes:
        if local_dir is None:
            raise Skipped("none given")
        return _verified(_read_local(Path(local_dir)))

    sources: dict[str, Callable[[], bytes]] = {
        f"local folder {local_dir or '(PENDIGITS_DIR)'}": local,
        f"UCI download {url}": lambda: _verified(
            _from_uci_zip(download(url, timeout=timeout, max_bytes=_MAX_BYTES, progress=progress))
        ),
    }
    try:
        label, data = first_verified(sources, log=log)
    except NoSourceWorked as exc:
        raise PendigitsUnavailable(
            "The pen-drawn digits could not be fetched from any source:\n"
            + exc.bulleted()
            + f"Set PENDIGITS_DIR to a folder holding {FILE_NAME} (or .gz, or .Z, or UCI's "
            "zip of the data set)."
        ) from None
    log(f"{label}: ok, {FILE_NAME} verifies")
    atomic_write_bytes(target, data)
    return target


def pendigits_probe(
    cache_dir: Path, *, local_dir: Path | None = None, url: str = UCI_URL, timeout: float = 5.0
) -> str | None:
    """None when a training job will find the pen-drawn digits (cached, in the
    local folder, or UCI answers); otherwise what was tried. Downloads nothing."""
    if (Path(cache_dir) / FILE_NAME).is_file():
        return None
    tried = [f"the cache {cache_dir} does not hold {FILE_NAME}"]
    if local_dir is not None:
        folder = Path(local_dir)
        if any((folder / name).is_file() for name in _FORMS) or any(folder.glob("*.zip")):
            return None
        tried.append(f"PENDIGITS_DIR {folder} does not hold it")
    problem = unreachable(url, timeout=timeout)
    if problem is None:
        return None
    tried.append(f"UCI: {problem}")
    return "; ".join(tried)


def load_pendigits(cache_dir: Path) -> PendigitsData:
    """The cached digits, hashed from the same bytes that are then parsed."""
    path = Path(cache_dir) / FILE_NAME
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PendigitsNotCached(f"{path} is missing; fetch the pen-drawn digits first") from exc
    if sha256_bytes(data) != SHA256:
        raise PendigitsNotCached(f"{path} does not match its sha256 (corrupt or partial)")
    return PendigitsData(digits=parse_unipen(data.decode("ascii")), sha256=SHA256)


def read_pendigits(path: Path) -> PendigitsData:
    """The digits from a file given by hand (as is, .gz or .Z; or UCI's zip)
    or a folder holding one, verified, without touching the cache. Raises
    PendigitsUnavailable saying what is wrong."""
    path = Path(path)
    try:
        if path.is_dir():
            data = _read_local(path)
        elif path.suffix == ".zip":
            data = _from_uci_zip(_read_bytes(path))
        else:
            by_suffix = {".gz": f"{FILE_NAME}.gz", ".Z": UCI_MEMBER}
            data = _FORMS[by_suffix.get(path.suffix, FILE_NAME)](_read_bytes(path))
        _verified(data)
    except SourceFailed as exc:
        raise PendigitsUnavailable(f"{path}: {exc}") from None
    return PendigitsData(digits=parse_unipen(data.decode("ascii")), sha256=SHA256)


def _verified(data: bytes) -> bytes:
    if sha256_bytes(data) != SHA256:
        raise SourceFailed(f"{FILE_NAME}: sha256 mismatch")
    return data


# The file as it may be found, and how to get the plain text from its bytes.
_FORMS: dict[str, Callable[[bytes], bytes]] = {
    FILE_NAME: lambda data: data,
    f"{FILE_NAME}.gz": lambda data: gunzip(data, max_bytes=_MAX_BYTES),
    UCI_MEMBER: lambda data: unlzw(data, max_bytes=_MAX_BYTES),
}


def _read_local(folder: Path) -> bytes:
    if not folder.is_dir():
        raise SourceFailed("not a directory")
    for name, decode in _FORMS.items():
        if (folder / name).is_file():
            # read_file would gunzip a .gz itself; read the bytes as stored.
            return decode(_read_bytes(folder / name))
    archives = sorted(folder.glob("*.zip"))
    if archives:
        return _from_uci_zip(_read_bytes(archives[0]))
    raise SourceFailed(f"no {FILE_NAME} (as is, .gz or .Z) and no zip of the data set")


def _read_bytes(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(_MAX_BYTES + 1)
    except OSError as exc:
        raise SourceFailed(f"{path.name} is unreadable: {exc}") from exc
    if len(data) > _MAX_BYTES:
        raise SourceFailed(f"{path.name} is larger than {_MAX_BYTES:,} bytes")
    return data


def _from_uci_zip(data: bytes) -> bytes:
    """`pendigits-orig.tra` from UCI's zip, read by member name, never extracted."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = {Path(name).name: name for name in archive.namelist()}
            for name, decode in _FORMS.items():
                if name in members:
                    info = archive.getinfo(members[name])
                    if info.file_size > _MAX_BYTES:
                        raise SourceFailed(f"{name} in the zip is {info.file_size:,} bytes")
                    return decode(archive.read(info))
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise SourceFailed(f"the zip is unreadable: {exc}") from exc
    raise SourceFailed(f"the zip has no {UCI_MEMBER}")
