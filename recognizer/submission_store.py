"""Submission images through Django's storage API (the `submissions` alias).

A submission's row names two files: what was uploaded (`image`, empty for a
pixel array) and the 28x28 the model saw (`preprocessed`, a grey PNG). The
bytes live in the storage: the folder MEDIA_ROOT by default, a bucket when
SUBMISSION_STORE_BUCKET is set, so web and workers on several hosts share
them and the database holds no image bytes.

Files are written before their row is inserted: a committed row always has
its files. Keys never name two different uploads: a new submission's key is
random, a batch item's is its (batch, index), written again with the same
bytes when a resumed batch repeats the item. What a failed insert leaves
behind is an unreferenced file, never a row without its image. While the
store is down, recognizer/services/submission_images.py keeps a prediction's
files in the database instead, and reads look there too.

Originals expire after SUBMISSION_ORIGINAL_RETENTION_DAYS
(recognizer/services/retention.py); the 28x28 stays for retraining.
"""

import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.core.signals import setting_changed
from django.utils import timezone
from django.utils.functional import LazyObject, empty

from mnistsite.breakers import CircuitBreaker
from mnistsite.object_storage import StorageUnavailable
from recognizer.imaging.inputs import DigitInput
from recognizer.imaging.shown import seen_png
from training.ml.mnist_style import to_uint8

ALIAS = "submissions"
SUFFIXES = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
# S3 deletes up to 1,000 keys per request.
DELETE_CHUNK = 1000
# After a failure, writes skip the store for a few seconds: while it is down
# (or hangs until its timeouts), each write would wait for it.
store_breaker = CircuitBreaker("the submission store", seconds=5.0)


class SubmissionStoreUnavailable(StorageUnavailable):
    """The submission store failed or did not answer."""


class SubmissionImageMissing(Exception):
    """A named file is not in the store (an original that expired)."""


class _SubmissionStorage(LazyObject):
    """storages[ALIAS], looked up when first used and again after the
    settings change (tests), as Django's own default_storage is."""

    def _setup(self) -> None:
        self._wrapped = storages[ALIAS]


submission_storage_object = _SubmissionStorage()


def _storages_changed(*, setting: str, **kwargs: object) -> None:
    if setting in {"STORAGES", "MEDIA_ROOT"}:
        submission_storage_object._wrapped = empty


setting_changed.connect(_storages_changed)


def submission_storage() -> Storage:
    """The storage of Submission's file fields (a callable, so migrations
    record the alias, not one deployment's storage)."""
    return submission_storage_object


@dataclass(frozen=True)
class StoredImages:
    image: str  # the key of what was uploaded; "" for a pixel array
    preprocessed: str  # the key of the 28x28 seen


def new_stem() -> str:
    """A new submission's key stem: by day, then random."""
    return f"{timezone.now():%Y/%m/%d}/{uuid.uuid4().hex}"


def batch_item_stem(batch_id: int, index: int) -> str:
    return f"batches/{batch_id}/{index}"


@dataclass(frozen=True)
class ImageFiles:
    """What one input stores: (key, bytes) of its upload (if any) and of its 28x28."""

    files: list[tuple[str, bytes]]

    @property
    def stored(self) -> StoredImages:
        keys = [key for key, _ in self.files]
        return StoredImages(image=keys[0] if len(keys) == 2 else "", preprocessed=keys[-1])


def image_files(stem: str, digit_input: DigitInput) -> ImageFiles:
    seen = (f"{stem}-seen.png", seen_png(to_uint8(digit_input.image28)))
    if not digit_input.original:
        return ImageFiles([seen])
    suffix = SUFFIXES.get(digit_input.image_format, "bin")
    return ImageFiles([(f"{stem}.{suffix}", digit_input.original), seen])


def files_save(files: Sequence[tuple[str, bytes]]) -> None:
    """Write (key, bytes) pairs, SUBMISSION_STORE_THREADS at a time when
    there are several (each is a round trip to an object store)."""
    _check_not_failing()
    try:
        if len(files) <= 2:
            for key, data in files:
                _save(key, data)
        else:
            with ThreadPoolExecutor(settings.SUBMISSION_STORE_THREADS) as pool:
                for _ in pool.map(lambda file: _save(*file), files):
                    pass
    except Exception as exc:  # each storage backend raises its own errors
        raise _failed("stored", exc) from exc


def images_save_many(inputs: Sequence[tuple[str, DigitInput]]) -> list[StoredImages]:
    """Store many inputs' files; their keys, in order."""
    files = [image_files(stem, digit_input) for stem, digit_input in inputs]
    files_save([file for item in files for file in item.files])
    return [item.stored for item in files]


def image_read(key: str) -> bytes:
    """The bytes stored under `key`; SubmissionImageMissing when there are none."""
    try:
        with submission_storage_object.open(key, "rb") as file:
            return file.read()
    except FileNotFoundError:
        raise SubmissionImageMissing(key) from None
    except Exception as exc:
        if _is_missing(exc):
            raise SubmissionImageMissing(key) from None
        raise _failed("read", exc) from exc


def images_delete(keys: Iterable[str]) -> None:
    """Delete the files under `keys` (absent ones are fine): in requests of
    DELETE_CHUNK keys on S3, one by one elsewhere."""
    keys = [key for key in keys if key]
    bucket = getattr(submission_storage_object, "bucket", None)  # S3Storage's
    try:
        if bucket is not None:
            for start in range(0, len(keys), DELETE_CHUNK):
                chunk = keys[start : start + DELETE_CHUNK]
                bucket.delete_objects(
                    Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True}
                )
        else:
            for key in keys:
                submission_storage_object.delete(key)
    except Exception as exc:
        raise _failed("deleted", exc) from exc


def _save(key: str, data: bytes) -> None:
    saved = submission_storage_object.save(key, ContentFile(data))
    if saved != key:  # a storage that renames rather than overwrites
        raise RuntimeError(f"the submission store saved {key} as {saved}")


def _is_missing(exc: Exception) -> bool:
    """An S3 'no such key' (botocore's ClientError with a 404)."""
    response = getattr(exc, "response", None)
    code = (response or {}).get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code in {"404", "NoSuchKey", "NotFound"}


def _check_not_failing() -> None:
    if store_breaker.is_open():
        raise SubmissionStoreUnavailable("the submission store failed a few seconds ago")


def _failed(what: str, exc: Exception) -> SubmissionStoreUnavailable:
    store_breaker.trip(exc)
    return SubmissionStoreUnavailable(
        f"a submission image could not be {what} ({type(exc).__name__}: {exc})"
    )
