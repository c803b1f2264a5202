"""Model files in the model store: written atomically under a name never used
before, identified by sha256, verified before every load."""

import os
import tempfile
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
    """Save `model` as `<stem>-<sha256 prefix>.keras` in `store_dir`.

    Steps: write to a temporary file in the same folder (same filesystem, so
    the final rename is atomic), fsync it, hash it, then link it to its final
    name, which fails rather than overwrite an existing file. The temporary
    file is gone afterwards whatever happens.
    """
    store_dir.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=store_dir, prefix=".saving-", suffix=".keras")
    os.close(handle)
    temp = Path(temp_name)
    try:
        _without_optimizer(model).save(temp)
        with temp.open("rb") as written:
            os.fsync(written.fileno())
        digest = sha256_file(temp)
        final = store_dir / f"{stem}-{digest[:12]}.keras"
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
    if not path.is_file():
        raise ArtifactError(f"model file {path} is missing")
    actual = sha256_file(path)
    if actual != sha256:
        raise ArtifactError(f"model file {path} has sha256 {actual}, registered as {sha256}")


def artifact_load(path: Path, sha256: str) -> Any:
    """The Keras model in `path`, after checking it is the registered file."""
    artifact_verify(path, sha256)
    import keras

    return keras.models.load_model(path, compile=False)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
