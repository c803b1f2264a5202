"""The pen-drawn digits as a data source: every form a source may deliver them
in, verification by sha256 (a corrupt file is never cached), the split by
writer, and the canvas set every version is scored on."""

import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.training.ml.test_sources import lzw_compress
from tests.training.test_datasets import serving, unreachable_url
from training.ml.pendigits import (
    FILE_NAME,
    HELD_OUT_WRITERS,
    SHA256,
    UCI_MEMBER,
    PendigitsNotCached,
    PendigitsUnavailable,
    canvas_set,
    fetch_pendigits,
    load_pendigits,
    pendigits_probe,
    read_pendigits,
)


@pytest.fixture(scope="session")
def original(pendigits_dir: Path) -> bytes:
    """The real file's plain text."""
    path = next(pendigits_dir.glob("pendigits-orig.tra*"))
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


@pytest.fixture(scope="session")
def compressed(original: bytes) -> bytes:
    """The file Unix-compressed, as UCI's zip holds it (made once: seconds)."""
    return lzw_compress(original)


def uci_zip(member_bytes: bytes, member: str = UCI_MEMBER) -> bytes:
    """A zip laid out like UCI's: the original files, Unix-compressed, beside others."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("pendigits-orig.names", "about the data")
        zipped.writestr("pendigits.tra", "1,2,3")
        zipped.writestr(member, member_bytes)
    return archive.getvalue()


def fetch_quietly(cache: Path, **kwargs) -> tuple[Path, list[str]]:
    lines: list[str] = []
    kwargs.setdefault("url", unreachable_url())
    return fetch_pendigits(cache, log=lines.append, **kwargs), lines


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        (FILE_NAME, lambda data: data),
        (f"{FILE_NAME}.gz", gzip.compress),
        (UCI_MEMBER, lzw_compress),
        (
            "pen+based+recognition+of+handwritten+digits.zip",
            lambda data: uci_zip(lzw_compress(data)),
        ),
    ],
    ids=["plain", "gzip", "compress", "uci-zip"],
)
def test_a_local_folder_in_any_form_is_verified_and_cached(original, tmp_path, name, encode):
    folder = tmp_path / "local"
    folder.mkdir()
    (folder / name).write_bytes(encode(original))

    path, lines = fetch_quietly(tmp_path / "cache", local_dir=folder)

    assert path == tmp_path / "cache" / FILE_NAME
    assert lines[-1] == f"local folder {folder}: ok, {FILE_NAME} verifies"
    assert len(load_pendigits(tmp_path / "cache").digits) == 7494


def test_uci_download_is_the_next_source_and_is_read_from_its_zip(original, compressed, tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "pendigits.zip").write_bytes(uci_zip(compressed))

    with serving(served) as base:
        _, lines = fetch_quietly(tmp_path / "cache", url=f"{base}/pendigits.zip")

    assert lines[1] == "local folder (PENDIGITS_DIR): skipped: none given"
    assert lines[-1] == f"UCI download {base}/pendigits.zip: ok, {FILE_NAME} verifies"
    assert (tmp_path / "cache" / FILE_NAME).read_bytes() == original


def test_a_corrupt_file_is_refused_and_nothing_is_cached(original, tmp_path):
    folder = tmp_path / "local"
    folder.mkdir()
    corrupt = original.replace(b" 267  333", b" 267  334", 1)
    (folder / FILE_NAME).write_bytes(corrupt)
    mirror = unreachable_url()

    with pytest.raises(PendigitsUnavailable) as failure:
        fetch_quietly(tmp_path / "cache", local_dir=folder, url=mirror, timeout=2)

    message = str(failure.value)
    assert f"local folder {folder}: failed: {FILE_NAME}: sha256 mismatch" in message
    assert f"UCI download {mirror}: failed: download failed" in message
    assert "Set PENDIGITS_DIR" in message
    assert not (tmp_path / "cache").exists()


def test_a_zip_without_the_original_file_fails_that_source(original, tmp_path):
    folder = tmp_path / "local"
    folder.mkdir()
    (folder / "other.zip").write_bytes(uci_zip(b"x", member="pendigits-orig.tes.Z"))

    with pytest.raises(PendigitsUnavailable, match=f"the zip has no {UCI_MEMBER}"):
        fetch_quietly(tmp_path / "cache", local_dir=folder)


def test_a_verified_cache_is_kept_and_a_corrupt_one_is_refused_then_fetched_again(
    original, pendigits_dir, tmp_path
):
    cache, _ = fetch_quietly(tmp_path / "cache", local_dir=pendigits_dir)
    _, lines = fetch_quietly(tmp_path / "cache")
    assert lines == [f"pen-drawn digits: {cache} verifies, nothing to fetch"]

    cache.write_bytes(original[:-100])  # a partial file
    with pytest.raises(PendigitsNotCached, match="does not match its sha256"):
        load_pendigits(tmp_path / "cache")
    _, lines = fetch_quietly(tmp_path / "cache", local_dir=pendigits_dir)

    assert lines[0] == f"pen-drawn digits: {cache} is corrupt; fetching"
    assert load_pendigits(tmp_path / "cache").sha256 == SHA256


def test_an_empty_cache_says_it_is_missing(tmp_path):
    with pytest.raises(PendigitsNotCached, match="is missing"):
        load_pendigits(tmp_path)


def test_the_probe_finds_a_local_folder_and_says_what_failed_without_one(pendigits_dir, tmp_path):
    assert pendigits_probe(tmp_path / "cache", local_dir=pendigits_dir) is None

    problem = pendigits_probe(tmp_path / "cache", local_dir=tmp_path, url=unreachable_url())

    assert f"PENDIGITS_DIR {tmp_path} does not hold it" in problem
    assert "UCI: not reachable" in problem


def test_read_pendigits_takes_a_file_or_a_folder_and_refuses_what_does_not_verify(
    pendigits_dir, tmp_path
):
    assert len(read_pendigits(pendigits_dir).digits) == 7494
    assert len(read_pendigits(next(pendigits_dir.glob("pendigits-orig.tra*"))).digits) == 7494
    (tmp_path / FILE_NAME).write_text('.SEGMENT DIGIT 0 ? "1"\n')

    with pytest.raises(PendigitsUnavailable, match="sha256 mismatch"):
        read_pendigits(tmp_path / FILE_NAME)


# --- by writer ----------------------------------------------------------------


def test_the_writer_split_is_fixed_and_disjoint(pendigits_dir):
    data = read_pendigits(pendigits_dir)
    training, held_out = data.training_digits(), data.held_out_digits()

    assert {5, 10, 15, 20, 25, 30} == HELD_OUT_WRITERS
    assert {d.writer for d in held_out} == HELD_OUT_WRITERS
    assert not {d.writer for d in training} & HELD_OUT_WRITERS
    assert len({d.writer for d in training}) == 24
    assert len(training) + len(held_out) == len(data.digits) == 7494
    assert len(held_out) == 1499
    assert [d.label for d in read_pendigits(pendigits_dir).held_out_digits()] == [
        d.label for d in held_out
    ]


def test_the_canvas_set_is_the_held_out_digits_drawn_the_same_way_every_time(pendigits_dir):
    data = read_pendigits(pendigits_dir)

    first, second = canvas_set(data), canvas_set(read_pendigits(pendigits_dir))

    assert first.images.shape == (1499, 28, 28)
    assert first.labels.tolist() == [d.label for d in data.held_out_digits()]
    assert first.sha256 == second.sha256
    assert np.array_equal(first.images, second.images)
