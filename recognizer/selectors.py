"""Reads of the recognizer's data."""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F, QuerySet

from recognizer.models import InferenceBatch, Submission, session_hash


def submissions_visible_to(user: AbstractBaseUser) -> QuerySet[Submission]:
    """Staff see every submission; anyone else only their own."""
    submissions = Submission.objects.select_related("model_version")
    if user.is_staff:
        return submissions
    if user.is_authenticated:
        return submissions.filter(user=user)
    return submissions.none()


def submission_is_owned_by(
    submission: Submission, *, user: AbstractBaseUser, session_key: str | None
) -> bool:
    """Whether this user (or anonymous session) made the submission."""
    if user.is_authenticated and submission.user_id == user.pk:
        return True
    return bool(submission.session_hash) and submission.session_hash == session_hash(session_key)


def submissions_filtered(
    submissions: QuerySet[Submission],
    *,
    digit: int | None = None,
    source: str | None = None,
    model_version: int | None = None,
    feedback: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Submission]:
    """`feedback`: right, wrong, none (no label yet) or any (labelled)."""
    if digit is not None:
        submissions = submissions.filter(digit=digit)
    if source:
        submissions = submissions.filter(source=source)
    if model_version is not None:
        submissions = submissions.filter(model_version__version=model_version)
    if feedback == "right":
        submissions = submissions.filter(feedback_label=F("digit"))
    elif feedback == "wrong":
        submissions = submissions.filter(feedback_label__isnull=False).exclude(
            feedback_label=F("digit")
        )
    elif feedback == "none":
        submissions = submissions.filter(feedback_label__isnull=True)
    elif feedback == "any":
        submissions = submissions.filter(feedback_label__isnull=False)
    if created_after is not None:
        submissions = submissions.filter(created_at__gte=created_after)
    if created_before is not None:
        submissions = submissions.filter(created_at__lt=created_before)
    return submissions


def batches_visible_to(user: AbstractBaseUser) -> QuerySet[InferenceBatch]:
    """Staff see every batch; a token user their own."""
    batches = InferenceBatch.objects.select_related("model_version").defer("payload")
    if user.is_staff:
        return batches
    if user.is_authenticated:
        return batches.filter(created_by=user)
    return batches.none()


def submission_images(*, submission_id: int) -> Submission | None:
    """Only what the admin's thumbnails need: the upload and the 28x28 seen."""
    return (
        Submission.objects.only("pk", "image", "image_format", "preprocessed")
        .filter(pk=submission_id)
        .first()
    )


def batches_recent(*, limit: int = 20) -> QuerySet[InferenceBatch]:
    """The newest batches without their payload (which may be megabytes)."""
    return InferenceBatch.objects.only("pk", "status", "total", "processed").order_by("-pk")[:limit]
