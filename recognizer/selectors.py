"""Reads of the recognizer's data."""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F, QuerySet

from recognizer.models import InferenceBatch, Submission, session_hash


def submissions_visible_to(user: AbstractBaseUser) -> QuerySet[Submission]:
    """Everyone's for a user with the admin's view permission on submissions;
    anyone else's own only."""
    submissions = Submission.objects.select_related("model_version")
    if user.has_perm("recognizer.view_submission"):
        return submissions
    if user.is_authenticated:
        return submissions.filter(user=user)
    return submissions.none()


def submission_feedback_allowed(
    submission: Submission, *, user: AbstractBaseUser, session_key: str | None
) -> bool:
    """Feedback comes from whoever made the prediction, or from a user who may
    relabel submissions in the admin."""
    return user.has_perm("recognizer.change_submission") or submission_is_owned_by(
        submission, user=user, session_key=session_key
    )


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


def batches_visible_to(user: AbstractBaseUser, *, to: str = "view") -> QuerySet[InferenceBatch]:
    """The batches `user` may view (`to="change"`: cancel): everyone's with
    the model permission for it, else their own."""
    batches = InferenceBatch.objects.select_related("model_version").defer("payload")
    if user.has_perm(f"recognizer.{to}_inferencebatch"):
        return batches
    if user.is_authenticated:
        return batches.filter(created_by=user)
    return batches.none()


def submission_images(*, submission_id: int) -> Submission | None:
    """Only what the admin's thumbnails need: the keys of the upload and of
    the 28x28 seen."""
    return (
        Submission.objects.only("pk", "image", "image_format", "preprocessed")
        .filter(pk=submission_id)
        .first()
    )


def batches_recent(*, limit: int = 20) -> QuerySet[InferenceBatch]:
    """The newest batches without their payload (which may be megabytes)."""
    return InferenceBatch.objects.only("pk", "status", "total", "processed").order_by("-pk")[:limit]
