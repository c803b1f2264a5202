"""Reads of the training app's data."""

from dataclasses import dataclass

import numpy as np
from django.db.models import Count, F, Max, Q

from training.models import JobStatus, LabelledSample, ModelVersion, SampleSource, TrainingJob


def active_version() -> ModelVersion | None:
    """The model version that serves predictions, or None before any is active."""
    return ModelVersion.objects.filter(is_active=True).first()


def labelled_samples_for_training() -> tuple[np.ndarray, np.ndarray]:
    """Users' labelled samples not excluded from training: (N, 28, 28) uint8
    images in MNIST convention and their (N,) labels."""
    rows = list(LabelledSample.objects.filter(excluded=False).values_list("image", "label"))
    images = np.zeros((len(rows), 28, 28), dtype=np.uint8)
    for index, (image, _) in enumerate(rows):
        images[index] = np.frombuffer(bytes(image), dtype=np.uint8).reshape(28, 28)
    return images, np.array([label for _, label in rows], dtype=np.uint8)


def training_jobs_filtered(*, status: str | None = None, preset: str | None = None):
    jobs = TrainingJob.objects.select_related("requested_by", "model_version")
    if status:
        jobs = jobs.filter(status=status)
    if preset:
        jobs = jobs.filter(preset=preset)
    return jobs


@dataclass(frozen=True)
class LiveAccuracy:
    """How often a version was right on what people drew, by their feedback."""

    right: int
    labelled: int

    @property
    def accuracy(self) -> float | None:
        return self.right / self.labelled if self.labelled else None


def live_accuracy_by_version() -> dict[int, LiveAccuracy]:
    """ModelVersion pk -> its live accuracy: of the feedback samples a version
    read, the share whose true label is what it predicted."""
    rows = (
        LabelledSample.objects.filter(model_version__isnull=False, predicted_digit__isnull=False)
        .values("model_version")
        .annotate(labelled=Count("pk"), right=Count("pk", filter=Q(label=F("predicted_digit"))))
    )
    return {row["model_version"]: LiveAccuracy(row["right"], row["labelled"]) for row in rows}


def newest_feedback_sample_id() -> int:
    return (
        LabelledSample.objects.filter(source=SampleSource.FEEDBACK).aggregate(top=Max("pk"))["top"]
        or 0
    )


def feedback_labels_since_last_job() -> int:
    """Feedback labels newer than what the last job trained on feedback saw
    (queued, running or succeeded; a failed or cancelled job used nothing)."""
    last = (
        TrainingJob.objects.filter(
            params__include_feedback=True,
            status__in=[JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED],
        ).aggregate(watermark=Max("feedback_watermark"))["watermark"]
        or 0
    )
    return LabelledSample.objects.filter(
        source=SampleSource.FEEDBACK, excluded=False, pk__gt=last
    ).count()
