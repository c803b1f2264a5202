"""Model files between processes and hosts, through Django's storage API.

The registry records a file by its key (`ModelVersion.artifact_path`,
`compiled_path`): `<stem>-<sha256 prefix>.<suffix>`, a name that says what is
in it, so a key is written once and never means other bytes. The `models`
storage (settings.STORAGES["models"]) holds the files under their keys.

- A storage on the local filesystem (the default: MODEL_STORE_DIR) is read and
  written in place: the stored file is the local copy.
- Any other storage (object storage) is reached through a local copy in
  MODEL_CACHE_DIR: a miss downloads the file, a copy whose sha256 is not the
  registered one is fetched again, and a stored file whose sha256 is wrong is
  refused (ArtifactError), so its version is unavailable.

Every load verifies the sha256 again (training/ml/artifacts.py).
"""

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages

from training.ml.artifacts import Artifact, ArtifactError, artifact_load, compiled_read
from training.ml.files import sha256_file

ALIAS = "models"


class ModelStoreUnreachable(ArtifactError):
    """The model store did not answer (or failed) while a file was fetched."""


# Read from the storage in pieces of this size: a model file is tens of MB.
_CHUNK = 1024 * 1024


class ModelStoreFolder(FileSystemStorage):
    """The default `models` storage: the folder MODEL_STORE_DIR, read from the
    settings whenever it is used (tests and commands point it elsewhere)."""

    @property
    def base_location(self) -> str:
        return str(settings.MODEL_STORE_DIR)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)


def model_storage() -> Storage:
    return storages[ALIAS]


def writing_dir() -> Path:
    """Where this process writes a new model file before publishing it: the
    store itself when it is a local folder, else the local cache."""
    return _local_root(model_storage()) or Path(settings.MODEL_CACHE_DIR)


def model_publish(artifact: Artifact) -> str:
    """Make `artifact` (a file in writing_dir()) available to every process;
    returns its key. In a local store it is there already; elsewhere it is
    uploaded unless its key exists (same key, same bytes)."""
    storage = model_storage()
    root = _local_root(storage)
    if root is not None:
        return str(artifact.path.resolve().relative_to(root))
    key = artifact.path.name
    if not storage.exists(key):
        with artifact.path.open("rb") as file:
            saved = storage.save(key, File(file, name=key))
        if saved != key:  # a storage that renames rather than overwrites
            raise ArtifactError(f"the model store saved {key} as {saved}")
    return key


def model_local_path(key: str, sha256: str) -> Path:
    """A local file holding the registered bytes of `key`. Raises
    ArtifactError when the stored file is missing, is not those bytes, or
    cannot be fetched (the store is down): the version is then unavailable."""
    storage = model_storage()
    root = _local_root(storage)
    if root is not None:
        return root / key
    cached = Path(settings.MODEL_CACHE_DIR) / key
    if cached.is_file() and sha256_file(cached) == sha256:
        return cached
    try:
        _download(storage, key, sha256, cached)
    except ArtifactError:
        raise
    except Exception as exc:  # each storage backend raises its own errors
        message = f"model file {key} could not be fetched ({type(exc).__name__}: {exc})"
        raise ModelStoreUnreachable(message) from exc
    return cached


def model_load(key: str, sha256: str) -> Any:
    """The Keras model stored under `key`, verified."""
    return artifact_load(model_local_path(key, sha256), sha256)


def compiled_load(key: str, sha256: str) -> bytes:
    """The compiled (LiteRT) model stored under `key`, verified."""
    return compiled_read(model_local_path(key, sha256), sha256)


def _download(storage: Storage, key: str, sha256: str, target: Path) -> None:
    """The stored file into `target`, replaced atomically and only once its
    sha256 is the registered one."""
    if not storage.exists(key):
        raise ArtifactError(f"model file {key} is not in the model store")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".fetching-")
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as temp, storage.open(key, "rb") as stored:
            while chunk := stored.read(_CHUNK):
                digest.update(chunk)
                temp.write(chunk)
            temp.flush()
            os.fsync(temp.fileno())
        if digest.hexdigest() != sha256:
            raise ArtifactError(
                f"model file {key} in the model store has sha256 {digest.hexdigest()}, "
                f"registered as {sha256}"
            )
        os.replace(temp_name, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)


def _local_root(storage: Storage) -> Path | None:
    """The folder of a storage that keeps its files on this machine's
    filesystem; None for any other (object storage, memory)."""
    if isinstance(storage, FileSystemStorage):
        return Path(storage.location).resolve()
    return None
