"""Writes of the recognizer: predictions, the submissions that store them,
and the feedback that turns a submission into a training sample."""

import time
from dataclasses import dataclass

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from recognizer.inputs import DigitInput
from recognizer.models import Submission, SubmissionSource, session_hash
from recognizer.predictor import LoadedModel, predictor
from recognizer.preprocessing import to_uint8
from training.models import SampleSource
from training.services.samples import labelled_sample_create, labelled_sample_relabel


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
    return Submission.objects.create(
        source=source,
        image=digit_input.original,
        image_format=digit_input.image_format,
        preprocessed=to_uint8(digit_input.image28).tobytes(),
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


@transaction.atomic
def submission_feedback(
    *, submission_id: int, label: int, by: AbstractBaseUser | None
) -> Submission:
    """Record the true digit and hand the sample to training. Saying it again
    changes the label (people misclick); the training sample follows."""
    submission = Submission.objects.select_for_update().get(pk=submission_id)
    submission.feedback_label = label
    submission.feedback_at = timezone.now()
    submission.feedback_by = by if by is not None and by.is_authenticated else None
    sample = submission.labelled_sample
    if sample is None:
        image = np.frombuffer(bytes(submission.preprocessed), dtype=np.uint8).reshape(28, 28)
        submission.labelled_sample = labelled_sample_create(
            image=image,
            label=label,
            source=SampleSource.FEEDBACK,
            model_version=submission.model_version,
            predicted_digit=submission.digit,
        )
    elif sample.label != label:
        labelled_sample_relabel(sample=sample, label=label)
    submission.save(
        update_fields=["feedback_label", "feedback_at", "feedback_by", "labelled_sample"]
    )
    return submission
