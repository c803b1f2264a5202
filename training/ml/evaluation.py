"""Test-set numbers for a model: accuracy, loss, per-class accuracy and the
10x10 confusion matrix (rows: true digit, columns: predicted)."""

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    loss: float
    per_class_accuracy: list[float]
    confusion_matrix: list[list[int]]
    count: int


def evaluate_probabilities(probabilities: np.ndarray, labels: np.ndarray) -> Evaluation:
    labels = np.asarray(labels, dtype=np.int64)
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class_total = confusion.sum(axis=1)
    per_class = np.divide(
        np.diag(confusion),
        per_class_total,
        out=np.zeros(10, dtype=np.float64),
        where=per_class_total > 0,
    )
    picked = probabilities[np.arange(len(labels)), labels]
    loss = float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))
    return Evaluation(
        accuracy=float((predicted == labels).mean()),
        loss=loss,
        per_class_accuracy=[round(float(value), 6) for value in per_class],
        confusion_matrix=confusion.tolist(),
        count=len(labels),
    )


def evaluate_model(model: Any, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """`images`: (N, 28, 28) floats in [0, 1], MNIST convention."""
    batch = images.astype(np.float32)[..., None]
    probabilities = model.predict(batch, batch_size=1000, verbose=0)
    return evaluate_probabilities(probabilities, labels)
