"""Model files in the model store: written atomically under a name never used
before, identified by sha256, verified before every load. A version has its
Keras file (`.keras`, the model itself) and, for serving single images, the
same model converted to a LiteRT flatbuffer (`.tflite`)."""

import contextlib
import hashlib
import io
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.ml.files import sha256_file


class ArtifactError(Exception):
    """The file is missing, or is not the file that was registered."""


@dataclass(frozen=True)
class Artifact:
    path: Path
    size: int
    sha256: str


def artifact_save(model: Any, store_dir: Path, *, stem: str) -> Artifact:
    """Save `model` as `<stem>-<sha256 prefix>.keras` in `store_dir`."""
    return _store(store_dir, stem, ".keras", lambda temp: _without_optimizer(model).save(temp))


def compiled_save(model: Any, store_dir: Path, *, stem: str) -> Artifact:
    """Save `model` converted for single-image serving, as
    `<stem>-<sha256 prefix>.tflite`: a LiteRT flatbuffer that answers one image
    on the calling thread in a fraction of the traced TensorFlow function's
    time in a web request (docs/benchmarks.md). Converted once, when the
    version is registered, because converting takes seconds."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(_without_optimizer(model))
    with contextlib.redirect_stdout(io.StringIO()):  # Keras prints its export summary
        flatbuffer = converter.convert()
    return _store(store_dir, stem, ".tflite", lambda temp: temp.write_bytes(flatbuffer))


def _store(store_dir: Path, stem: str, suffix: str, write: Callable[[Path], None]) -> Artifact:
    """Steps: write to a temporary file in the same folder (same filesystem, so
    the final rename is atomic), fsync it, hash it, then link it to its final
    name, which fails rather than overwrite an existing file. The temporary
    file is gone afterwards whatever happens."""
    store_dir.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=store_dir, prefix=".saving-", suffix=suffix)
    os.close(handle)
    temp = Path(temp_name)
    try:
        write(temp)
        with temp.open("rb") as written:
            os.fsync(written.fileno())
        digest = sha256_file(temp)
        final = store_dir / f"{stem}-{digest[:12]}{suffix}"
        os.link(temp, final)  # FileExistsError instead of overwriting
        _fsync_dir(store_dir)
        return Artifact(path=final, size=final.stat().st_size, sha256=digest)
    finally:
        temp.unlink(missing_ok=True)


def _without_optimizer(model: Any) -> Any:
    """The same architecture and weights, uncompiled: serving needs no
    optimizer state, and leaving it out makes the file a third of the size."""
    import keras

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def artifact_verify(path: Path, sha256: str) -> None:
    _check(path, sha256, lambda: sha256_file(path))


def _check(path: Path, sha256: str, actual_sha256: Callable[[], str]) -> None:
    if not path.is_file():
        raise ArtifactError(f"model file {path} is missing")
    actual = actual_sha256()
    if actual != sha256:
        raise ArtifactError(f"model file {path} has sha256 {actual}, registered as {sha256}")


def artifact_load(path: Path, sha256: str) -> Any:
    """The Keras model in `path`, after checking it is the registered file."""
    artifact_verify(path, sha256)
    import keras

    return keras.models.load_model(path, compile=False)


def compiled_read(path: Path, sha256: str) -> bytes:
    """The flatbuffer in `path`, after checking that these very bytes are the
    registered file."""
    data = path.read_bytes() if path.is_file() else b""
    _check(path, sha256, lambda: hashlib.sha256(data).hexdigest())
    return data


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
