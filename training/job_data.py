"""What a training job trains and is scored on, obtained by the job itself.

A job on a fresh installation fetches MNIST through the same verified sources
as `manage.py fetch_mnist`, and the pen-drawn digits where a source works;
each step is the job's stage, visible live in the admin and the API. Only
MNIST is required: without the pen-drawn digits the job trains on MNIST (and
feedback) alone, gets no canvas score, and its log says so.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings

from training.ml.datasets import MnistData, fetch_mnist, load_mnist, split_validation
from training.ml.fit import TrainingCancelled
from training.ml.pen_canvas import TRAINING_VARIATION, render_digits
from training.ml.pendigits import (
    HELD_OUT_WRITERS,
    CanvasSet,
    PendigitsData,
    PendigitsUnavailable,
    fetch_pendigits,
    load_pendigits,
)
from training.ml.sources import Progress
from training.params import TrainingParams
from training.selectors import labelled_samples_for_training
from training.services import jobs as job_services

# Stage updates while bytes arrive are written at most this often.
_STAGE_INTERVAL_SECONDS = 1.0


@dataclass
class JobData:
    x_train: np.ndarray  # (N, 28, 28) uint8: MNIST, pen-drawn drawings, feedback
    y_train: np.ndarray
    x_val: np.ndarray  # MNIST's held-out validation part: picks the best epoch
    y_val: np.ndarray
    mnist: MnistData  # its test set gives the reported numbers
    canvas: CanvasSet | None  # the held-out writers' drawings: the canvas score
    feedback: int
    fingerprint: dict[str, Any]  # recorded on the version: what it was trained on


def job_data_gather(*, job_id: int, params: TrainingParams) -> JobData:
    """Fetch (where needed), load and assemble everything the job uses,
    reporting each step as its stage. Raises MnistUnavailable when no MNIST
    source works, TrainingCancelled when the job is cancelled meanwhile."""
    stage = _StageReporter(job_id)
    stage("fetching MNIST")
    local = settings.MNIST_DIR or None
    fetch_mnist(settings.MNIST_CACHE_DIR, local_dir=local, log=stage.log, progress=stage.bytes)
    mnist = load_mnist(settings.MNIST_CACHE_DIR)
    x_train, y_train, x_val, y_val = split_validation(mnist.x_train, mnist.y_train)
    if params.max_train_samples:
        x_train, y_train = x_train[: params.max_train_samples], y_train[: params.max_train_samples]
    fingerprint: dict[str, Any] = {"mnist": mnist.checksums}

    pendigits = _pendigits(stage)
    canvas = None
    if pendigits is not None:
        stage("drawing the held-out writers' digits")
        canvas = pendigits.canvas_set
        if params.pen_copies:
            images, labels, fingerprint["pendigits"] = _pen_drawn(stage, pendigits, params)
            x_train, y_train = np.concatenate([x_train, images]), np.concatenate([y_train, labels])

    feedback = 0
    if params.include_feedback:
        images, labels = labelled_samples_for_training()
        x_train = np.concatenate([x_train, images])
        y_train = np.concatenate([y_train, labels.astype(y_train.dtype)])
        feedback = len(labels)
    fingerprint["feedback_samples"] = feedback
    return JobData(x_train, y_train, x_val, y_val, mnist, canvas, feedback, fingerprint)


def pendigits_from_sources(
    *, log: Callable[[str], None], progress: Progress | None = None
) -> PendigitsData:
    """The pen-drawn digits from the configured sources, through the cache.
    Raises PendigitsUnavailable saying what was tried."""
    local = settings.PENDIGITS_DIR or None
    fetch_pendigits(settings.PENDIGITS_CACHE_DIR, local_dir=local, log=log, progress=progress)
    return load_pendigits(settings.PENDIGITS_CACHE_DIR)


def _pendigits(stage: "_StageReporter") -> PendigitsData | None:
    stage("fetching pen-drawn digits")
    try:
        return pendigits_from_sources(log=stage.log, progress=stage.bytes)
    except PendigitsUnavailable as exc:
        stage.log(f"{exc}\nTraining on MNIST (and feedback) alone; no canvas score.")
        return None


def _pen_drawn(
    stage: "_StageReporter", pendigits: PendigitsData, params: TrainingParams
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    digits = pendigits.training_digits()
    if params.max_train_samples:
        digits = digits[: params.max_train_samples]
    stage(f"drawing {len(digits) * params.pen_copies:,} pen-drawn digits")
    started = time.monotonic()
    # Drawn with the job's seed: jobs with other seeds draw other variations.
    images, labels = render_digits(
        digits, variation=TRAINING_VARIATION, seed=params.seed, copies=params.pen_copies
    )
    stage.log(
        f"pen-drawn digits: {len(digits):,} by {len({d.writer for d in digits})} writers, "
        f"{params.pen_copies} drawings each, in {time.monotonic() - started:.1f} s "
        f"(writers {', '.join(map(str, sorted(HELD_OUT_WRITERS)))} held out for the canvas score)"
    )
    fingerprint = {
        "sha256": pendigits.sha256,
        "writers": sorted({d.writer for d in digits}),
        "digits": len(digits),
        "copies": params.pen_copies,
        "samples": len(labels),
    }
    return images, labels, fingerprint


class _StageReporter:
    """Writes the job's stage (with its heartbeat) and log lines; stops the
    job when it was cancelled meanwhile."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.stage = ""
        self.last_write = 0.0

    def __call__(self, stage: str) -> None:
        self.stage = stage
        self._write(stage)
        self.log(stage)

    def log(self, message: str) -> None:
        job_services.job_log(job_id=self.job_id, message=message)

    def bytes(self, received: int, total: int | None) -> None:
        """A fetch's progress; also called with nothing received while a
        fetch that cannot count bytes (npm) is still working."""
        now = time.monotonic()
        if now - self.last_write < _STAGE_INTERVAL_SECONDS:
            return
        detail = ""
        if received:
            detail = f": {received / 1e6:.1f}" + (f" of {total / 1e6:.1f} MB" if total else " MB")
        self._write(self.stage + detail)

    def _write(self, text: str) -> None:
        self.last_write = time.monotonic()
        if not job_services.job_set_stage(job_id=self.job_id, stage=text):
            raise TrainingCancelled()
