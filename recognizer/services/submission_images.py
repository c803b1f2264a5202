"""A submission's image files: into the store, or, while the store is down,
into the database with the submission's row (PendingImage), so a prediction
neither fails nor loses anything; beat's flush task moves them into the store
once it answers. Readers find a file in either place."""

import logging
import time

import numpy as np
from django.conf import settings
from django.db.models import Sum

from recognizer.imaging.inputs import DigitInput
from recognizer.imaging.shown import seen_from_png
from recognizer.models import PendingImage
from recognizer.submission_store import (
    StoredImages,
    SubmissionImageMissing,
    SubmissionStoreUnavailable,
    files_save,
    image_files,
    image_read,
)

logger = logging.getLogger(__name__)

# Pending files moved per round of the flush task: each may be as large as
# PREDICTION_MAX_IMAGE_BYTES (5 MiB), so a round holds at most about 80 MiB.
FLUSH_CHUNK = 16


def images_keep(stem: str, digit_input: DigitInput) -> tuple[StoredImages, list[PendingImage]]:
    """Store one input's files. While the store is down: the rows to insert
    with the submission instead, unless the backlog would pass
    SUBMISSION_BACKLOG_MAX_BYTES (then SubmissionStoreUnavailable)."""
    files = image_files(stem, digit_input)
    try:
        files_save(files.files)
        return files.stored, []
    except SubmissionStoreUnavailable as exc:
        size = sum(len(data) for _, data in files.files)
        backlog = PendingImage.objects.aggregate(total=Sum("size"))["total"] or 0
        if backlog + size > settings.SUBMISSION_BACKLOG_MAX_BYTES:
            raise SubmissionStoreUnavailable(f"{exc}; the backlog is full") from exc
        logger.warning("submission images kept in the database until the store answers: %s", exc)
        pending = [PendingImage(key=key, data=data, size=len(data)) for key, data in files.files]
        return files.stored, pending


def image_bytes(key: str) -> bytes:
    """The file under `key`, from the store or, not yet flushed, the backlog."""
    try:
        return image_read(key)
    except (SubmissionImageMissing, SubmissionStoreUnavailable):
        pending = PendingImage.objects.filter(key=key).values_list("data", flat=True).first()
        if pending is None:
            raise
        return bytes(pending)


def seen_image(key: str) -> np.ndarray:
    """The 28x28 (uint8) the model saw, stored under `key`."""
    return seen_from_png(image_bytes(key))


def pending_images_flush(*, budget_seconds: float = 50.0) -> int:
    """Move pending files into the store, oldest first, for about
    `budget_seconds` or until the store fails. A file is deleted from the
    backlog only once the store has it (a second flusher at the same time
    writes the same bytes under the same key). Returns how many moved."""
    deadline, moved = time.monotonic() + budget_seconds, 0
    while time.monotonic() < deadline:
        pending = list(PendingImage.objects.values_list("pk", "key", "data")[:FLUSH_CHUNK])
        if not pending:
            break
        try:
            files_save([(key, bytes(data)) for _, key, data in pending])
        except SubmissionStoreUnavailable as exc:
            logger.warning("%s pending image(s) wait for the store: %s", len(pending), exc)
            break
        PendingImage.objects.filter(pk__in=[pk for pk, _, _ in pending]).delete()
        moved += len(pending)
    return moved
