"""Reads of the training app's data."""

import numpy as np

from training.models import LabelledSample, ModelVersion, TrainingJob


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
