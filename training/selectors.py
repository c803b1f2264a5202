"""Reads of the training app's data."""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Max, Q, QuerySet

from training.ml.datasets import mnist_probe
from training.ml.pendigits import pendigits_probe
from training.models import (
    JobStatus,
    LabelledSample,
    ModelActivation,
    ModelVersion,
    SampleSource,
    TrainingJob,
)


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


def model_versions_with_live_accuracy() -> QuerySet[ModelVersion]:
    """Every version annotated with `live_right` and `live_labelled` (the
    feedback samples it read, and how many it got right)."""
    read = Q(feedback_samples__predicted_digit__isnull=False)
    return ModelVersion.objects.select_related("training_job").annotate(
        live_labelled=Count("feedback_samples", filter=read),
        live_right=Count(
            "feedback_samples",
            filter=read & Q(feedback_samples__label=F("feedback_samples__predicted_digit")),
        ),
    )


@dataclass(frozen=True)
class AccuracyPoint:
    version: int
    created_at: datetime
    test_accuracy: float | None
    live: LiveAccuracy
    is_active: bool
    canvas_accuracy: float | None = None
    canvas_set_sha256: str = ""


@dataclass(frozen=True)
class AccuracyHistory:
    points: list[AccuracyPoint]  # oldest first
    activations: list[ModelActivation]  # oldest first
    new_feedback_labels: int


def accuracy_history() -> AccuracyHistory:
    """Test, canvas and live accuracy of every version over time, the activation
    timeline, and how many feedback labels wait for the next training."""
    versions = model_versions_with_live_accuracy().order_by("created_at", "version")
    points = [
        AccuracyPoint(
            version=version.version,
            created_at=version.created_at,
            test_accuracy=version.test_accuracy,
            live=LiveAccuracy(version.live_right, version.live_labelled),
            is_active=version.is_active,
            canvas_accuracy=version.canvas_accuracy,
            canvas_set_sha256=version.canvas_set_sha256,
        )
        for version in versions
    ]
    activations = list(
        ModelActivation.objects.select_related(
            "version", "previous_version", "activated_by"
        ).order_by("activated_at", "pk")
    )
    return AccuracyHistory(points, activations, feedback_labels_since_last_job())


@dataclass(frozen=True)
class DataSourceWarnings:
    """What a training job started now would lack, in words for staff."""

    mnist: str | None  # set: the job will fail
    pendigits: str | None  # set: the job trains on MNIST alone, no canvas score


# Probing asks the network (a HEAD request, `npm view`): once a minute is enough.
_DATA_SOURCES_CACHE_KEY = "training:data-source-warnings"
_DATA_SOURCES_CACHE_SECONDS = 60


def data_source_warnings() -> DataSourceWarnings:
    """Whether MNIST and the pen-drawn digits are cached or a source answers,
    without downloading anything (training/ml: mnist_probe, pendigits_probe)."""
    found = cache.get(_DATA_SOURCES_CACHE_KEY)
    if found is None:
        mnist_dir, pendigits_dir = settings.MNIST_DIR, settings.PENDIGITS_DIR
        found = DataSourceWarnings(
            mnist=mnist_probe(
                settings.MNIST_CACHE_DIR, local_dir=Path(mnist_dir) if mnist_dir else None
            ),
            pendigits=pendigits_probe(
                settings.PENDIGITS_CACHE_DIR,
                local_dir=Path(pendigits_dir) if pendigits_dir else None,
            ),
        )
        cache.set(_DATA_SOURCES_CACHE_KEY, found, _DATA_SOURCES_CACHE_SECONDS)
    return found
