"""Reads of the training app's data."""

from training.models import ModelVersion


def active_version() -> ModelVersion | None:
    """The model version that serves predictions, or None before any is active."""
    return ModelVersion.objects.filter(is_active=True).first()
