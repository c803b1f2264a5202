"""Writes of the recognizer. Views, tasks and commands call these."""

from recognizer.services.predictions import (
    Prediction,
    predict,
    prediction_from_probabilities,
    submission_create,
    submission_feedback,
    submissions_exclude_from_training,
    submissions_relabel,
)

__all__ = [
    "Prediction",
    "predict",
    "prediction_from_probabilities",
    "submission_create",
    "submission_feedback",
    "submissions_exclude_from_training",
    "submissions_relabel",
]
