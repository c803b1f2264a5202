"""How long what people uploaded is kept: originals older than the retention
period are deleted from the store and their rows forget them; the 28x28 the
model saw stays, for retraining and the admin."""

import time
from datetime import timedelta

from django.utils import timezone

from recognizer.models import PendingImage, Submission
from recognizer.submission_store import images_delete

# Rows handled per round: one S3 delete request, one UPDATE.
CHUNK = 1000


def originals_expire(*, older_than: timedelta, budget_seconds: float = 600.0) -> int:
    """Delete the originals of submissions created more than `older_than` ago,
    oldest first, for at most about `budget_seconds` (the next run goes on).
    The files go first, then the rows forget them: a run that fails between
    leaves rows naming deleted files (shown as the 28x28), never a file the
    retention promised to delete. Returns how many originals were deleted."""
    cutoff = timezone.now() - older_than
    deadline = time.monotonic() + budget_seconds
    deleted = 0
    while time.monotonic() < deadline:
        expired = list(
            Submission.objects.filter(created_at__lt=cutoff)
            .exclude(image="")
            .order_by("created_at")
            .values_list("pk", "image")[:CHUNK]
        )
        if not expired:
            break
        keys = [key for _, key in expired]
        images_delete(keys)
        PendingImage.objects.filter(key__in=keys).delete()  # never reached the store
        Submission.objects.filter(pk__in=[pk for pk, _ in expired]).update(image="")
        deleted += len(expired)
    return deleted
