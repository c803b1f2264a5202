"""Writes of the recognizer: predictions, the submissions that store them,
and the feedback that turns a submission into a training sample."""

import time
from dataclasses import dataclass

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from recognizer.imaging.inputs import DigitInput
from recognizer.models import PendingImage, Submission, SubmissionSource, session_hash
from recognizer.predictor import LoadedModel, predictor
from recognizer.services.submission_images import images_keep, seen_image
from recognizer.submission_store import new_stem
from training.models import LabelledSample, SampleSource
from training.services.samples import (
    SampleError,
    labelled_sample_create,
    labelled_sample_relabel,
)


@dataclass(frozen=True)
class Prediction:
    digit: int
    confidence: float
    probabilities: list[float]
    model: LoadedModel
    seconds: float  # preprocessing and inference of this one image

    @property
    def model_version(self) -> int:
        return self.model.version


def predict(
    digit_input: DigitInput, *, started: float, model: LoadedModel | None = None
) -> Prediction:
    """Run the active model (or `model`) on one preprocessed image.
    `started` is the time.perf_counter() when the request's input arrived."""
    model = model or predictor().model()
    probabilities = model.infer(digit_input.image28[None].astype(np.float32))[0]
    return prediction_from_probabilities(probabilities, model=model, started=started)


def prediction_from_probabilities(
    probabilities: np.ndarray, *, model: LoadedModel, started: float
) -> Prediction:
    digit = int(np.argmax(probabilities))
    rounded = [round(float(value), 6) for value in probabilities]
    return Prediction(
        digit=digit,
        confidence=min(1.0, max(0.0, rounded[digit])),
        probabilities=rounded,
        model=model,
        seconds=time.perf_counter() - started,
    )


def submission_create(
    *,
    digit_input: DigitInput,
    prediction: Prediction,
    source: SubmissionSource,
    user: AbstractBaseUser | None,
    session_key: str | None,
) -> Submission:
    """Store the input's images, then the row that names them (so a
    committed row has its files; while the store is down, they are committed
    with the row). Raises SubmissionStoreUnavailable when neither can take them."""
    images, pending = images_keep(new_stem(), digit_input)
    submission = Submission(
        source=source,
        image=images.image,
        image_format=digit_input.image_format,
        preprocessed=images.preprocessed,
        digit=prediction.digit,
        confidence=prediction.confidence,
        probabilities=prediction.probabilities,
        model_version_id=prediction.model.ref.pk,
        latency_ms=round(prediction.seconds * 1000.0, 3),
        user=user if user is not None and user.is_authenticated else None,
        session_hash=""
        if user is not None and user.is_authenticated
        else session_hash(session_key),
    )
    if not pending:
        submission.save(force_insert=True)
        return submission
    with transaction.atomic():
        submission.save(force_insert=True)
        PendingImage.objects.bulk_create(pending)
    return submission


@transaction.atomic
def submission_feedback(
    *, submission_id: int, label: int, by: AbstractBaseUser | None
) -> Submission:
    """Record the true digit and hand the sample to training. Saying it again
    changes the label (people misclick); the training sample follows."""
    submission = Submission.objects.select_for_update().get(pk=submission_id)
    _submission_label(submission, label=label, by=by, source=SampleSource.FEEDBACK)
    return submission


@transaction.atomic
def submissions_relabel(*, submission_ids: list[int], label: int, by: AbstractBaseUser) -> int:
    """Staff record the true digit of many submissions at once (the admin's
    relabel action): as feedback, with a training sample created (source
    `relabel`) or relabelled (keeping its source). Returns how many were labelled."""
    if not 0 <= int(label) <= 9:
        raise SampleError("the label must be a digit 0-9")
    submissions = (
        # of=self: PostgreSQL locks no row on the nullable side of the join.
        Submission.objects.select_for_update(of=("self",))
        .select_related("labelled_sample", "model_version")
        .filter(pk__in=submission_ids)
        .order_by("pk")
    )
    count = 0
    for submission in submissions:
        _submission_label(submission, label=int(label), by=by, source=SampleSource.RELABEL)
        count += 1
    return count


@transaction.atomic
def submissions_exclude_from_training(*, submission_ids: list[int], excluded: bool) -> int:
    """Leave the training samples of these submissions out of training (or
    take them in again). Submissions without feedback have no sample and are
    skipped. Returns how many samples changed."""
    return (
        LabelledSample.objects.filter(submission__pk__in=submission_ids)
        .exclude(excluded=excluded)
        .update(excluded=excluded)
    )


def _submission_label(
    submission: Submission, *, label: int, by: AbstractBaseUser | None, source: SampleSource
) -> None:
    """Set the feedback label of a locked submission; its training sample is
    created with `source` the first time and follows the label afterwards."""
    submission.feedback_label = label
    submission.feedback_at = timezone.now()
    submission.feedback_by = by if by is not None and by.is_authenticated else None
    sample = submission.labelled_sample
    if sample is None:
        submission.labelled_sample = labelled_sample_create(
            image=seen_image(submission.preprocessed.name),
            label=label,
            source=source,
            model_version=submission.model_version,
            predicted_digit=submission.digit,
        )
    elif sample.label != label:
        labelled_sample_relabel(sample=sample, label=label)
    submission.save(
        update_fields=["feedback_label", "feedback_at", "feedback_by", "labelled_sample"]
    )
