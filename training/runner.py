"""Runs one claimed training job: the meeting point of the database and the
Django-free training code. Called by `train_job_task` (and `train --wait`)."""

import logging
import socket
import time
from dataclasses import dataclass
from typing import Protocol

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction

from mnistsite.queued_work import JobStatus
from training.job_data import JobData, job_data_gather
from training.ml.artifacts import Artifact, artifact_save, compiled_save
from training.ml.evaluation import Evaluation, evaluate_model
from training.ml.fit import EpochMetrics, FitResult, TrainingCancelled, fit
from training.ml.pendigits import CanvasScore, canvas_score
from training.model_store import writing_dir
from training.models import ModelVersion, TrainingJob
from training.params import TrainingParams
from training.services import jobs as job_services
from training.services.registry import version_auto_activate, version_register

logger = logging.getLogger(__name__)

# Progress (and with it the heartbeat and the cancel check) is written at most
# this often: often enough for a live progress bar, rare enough to cost nothing.
PROGRESS_INTERVAL_SECONDS = 1.0


class Watcher(Protocol):
    """Someone watching a job run in the foreground (`train --wait`)."""

    def on_progress(self, *, epoch: int, fraction: float, eta_seconds: float | None) -> None: ...

    def on_epoch(self, metrics: EpochMetrics) -> None: ...


@dataclass
class Outcome:
    status: str
    version: ModelVersion | None = None
    error: str = ""


class JobReporter:
    """Writes progress to the job row between batches and stops training when
    the job was cancelled (or reaped) meanwhile."""

    def __init__(self, job: TrainingJob, epochs: int, watcher: "Watcher | None" = None) -> None:
        self.job_id = job.pk
        self.epochs = epochs
        self.watcher = watcher
        self.started = time.monotonic()
        self.last_write = 0.0

    def on_batch(self, *, epoch: int, batch: int, batches: int) -> None:
        now = time.monotonic()
        if now - self.last_write < PROGRESS_INTERVAL_SECONDS and batch < batches:
            return
        self.last_write = now
        fraction = batch / batches
        done = (epoch - 1 + fraction) / self.epochs
        elapsed = now - self.started
        eta = elapsed * (1 - done) / done if done > 0 else None
        still_wanted = job_services.job_record_progress(
            job_id=self.job_id, epoch=epoch, epoch_fraction=fraction, eta_seconds=eta
        )
        if not still_wanted:
            raise TrainingCancelled()
        if self.watcher:
            self.watcher.on_progress(epoch=epoch, fraction=fraction, eta_seconds=eta)

    def on_epoch(self, metrics: EpochMetrics) -> None:
        job_services.job_record_epoch(job_id=self.job_id, metrics=metrics.as_dict())
        job_services.job_log(
            job_id=self.job_id,
            message=(
                f"epoch {metrics.epoch}/{self.epochs}: loss {metrics.loss:.4f}, "
                f"accuracy {metrics.accuracy:.2%}, validation {metrics.val_accuracy:.2%} "
                f"({metrics.seconds:.0f} s)"
            ),
        )
        if self.watcher:
            self.watcher.on_epoch(metrics)


def run_job(job_id: int, *, watcher: Watcher | None = None) -> Outcome | None:
    """Claim the job and train it. None when it was not ours to run (already
    claimed by another delivery, or cancelled while queued). Raises
    TrainingBusy, with the job still queued, while another job runs."""
    if not job_services.job_claim(job_id=job_id):
        logger.info("training job %s was already claimed or cancelled; nothing to do", job_id)
        return None
    job = TrainingJob.objects.get(pk=job_id)
    params = TrainingParams(**job.params)
    job_services.job_log(job_id=job_id, message=f"started on {socket.gethostname()}")
    try:
        outcome = _train_and_register(job, params, watcher)
    except TrainingCancelled:
        job_services.job_finish(job_id=job_id, status=JobStatus.CANCELLED)
        outcome = Outcome(status=JobStatus.CANCELLED)
    except SoftTimeLimitExceeded:
        error = f"Stopped at the time limit of {settings.TRAINING_SOFT_TIME_LIMIT_SECONDS} s."
        job_services.job_fail(job_id=job_id, error=error)
        outcome = Outcome(status=JobStatus.FAILED, error=error)
    except Exception as exc:
        logger.exception("training job %s failed", job_id)
        error = f"{type(exc).__name__}: {exc}"
        job_services.job_fail(job_id=job_id, error=error)
        outcome = Outcome(status=JobStatus.FAILED, error=error)
    job_services.job_log(job_id=job_id, message=_outcome_line(outcome))
    return outcome


def _outcome_line(outcome: Outcome) -> str:
    if outcome.version is not None:
        outcome.version.refresh_from_db(fields=["is_active"])  # the policy may have activated it
        version = outcome.version
        active = " (now active)" if version.is_active else ""
        canvas = (
            f", canvas accuracy {version.canvas_accuracy:.2%}"
            if version.canvas_accuracy is not None
            else ", no canvas score"
        )
        test = f"test accuracy {version.test_accuracy:.2%}"
        return f"registered v{version.version}{active}: {test}{canvas}"
    return f"{outcome.status}{': ' + outcome.error if outcome.error else ''}"


def _train_and_register(
    job: TrainingJob,
    params: TrainingParams,
    watcher: Watcher | None,
) -> Outcome:
    data = job_data_gather(job_id=job.pk, params=params)
    job_services.job_record_feedback_used(job_id=job.pk, count=data.feedback)
    pen_drawn = data.fingerprint.get("pendigits", {}).get("samples", 0)
    job_services.job_log(
        job_id=job.pk,
        message=(
            f"data: {len(data.x_train):,} training images ({pen_drawn:,} pen-drawn, "
            f"{data.feedback} from feedback), {len(data.x_val):,} for validation; "
            f"{params.architecture} x{params.members}, {params.epochs} epochs"
        ),
    )
    job_services.job_set_stage(job_id=job.pk, stage="training")
    reporter = JobReporter(job, params.total_epochs, watcher)
    result: FitResult = fit(
        data.x_train, data.y_train, data.x_val, data.y_val, params.fit_config(), reporter
    )
    job_services.job_set_stage(job_id=job.pk, stage="evaluating")
    # The test set is touched only here, for the reported numbers.
    evaluation = evaluate_model(result.model, data.mnist.x_test / 255.0, data.mnist.y_test)
    canvas = canvas_score(result.model, data.canvas) if data.canvas is not None else None
    job_services.job_set_stage(job_id=job.pk, stage="saving")
    artifacts = _save_artifacts(result.model, stem=f"job{job.pk}")
    try:
        version = _register_if_still_running(
            job, params, result, artifacts, evaluation, data, canvas
        )
    except BaseException:
        _remove(artifacts)
        raise
    if version is None:
        _remove(artifacts)
        raise TrainingCancelled()
    verdict = version_auto_activate(version, canvas=data.canvas)
    if verdict:
        job_services.job_log(job_id=job.pk, message=f"v{version.version}: {verdict}")
    return Outcome(status=JobStatus.SUCCEEDED, version=version)


def _save_artifacts(model, *, stem: str) -> tuple[Artifact, Artifact | None]:
    """The Keras file and the compiled one. A model that does not convert is
    still registered, without a compiled file: it then serves single images
    through TensorFlow, slower but the same answers."""
    artifact = artifact_save(model, writing_dir(), stem=stem)
    try:
        compiled = compiled_save(model, writing_dir(), stem=stem)
    except BaseException as exc:
        if isinstance(exc, Exception) and not isinstance(exc, SoftTimeLimitExceeded):
            logger.exception("%s: the model could not be compiled; registering it without", stem)
            return artifact, None
        artifact.path.unlink(missing_ok=True)  # the time limit, or the worker stopping
        raise
    return artifact, compiled


def _remove(artifacts: tuple[Artifact | None, ...]) -> None:
    for artifact in artifacts:
        if artifact is not None:
            artifact.path.unlink(missing_ok=True)


def _register_if_still_running(
    job: TrainingJob,
    params: TrainingParams,
    result: FitResult,
    artifacts: tuple[Artifact, Artifact | None],
    evaluation: Evaluation,
    data: JobData,
    canvas: CanvasScore | None,
) -> ModelVersion | None:
    """Register the version and finish the job in one transaction, unless the
    job was cancelled or reaped meanwhile (then nothing is registered)."""
    with transaction.atomic():
        current = TrainingJob.objects.select_for_update().get(pk=job.pk)
        if current.status != JobStatus.RUNNING or current.cancel_requested:
            return None
        artifact, compiled = artifacts
        version = version_register(
            artifact=artifact,
            compiled=compiled,
            architecture=(
                f"{params.architecture} x{params.members}"
                if params.members > 1
                else params.architecture
            ),
            parameter_count=int(result.model.count_params()),
            evaluation=evaluation,
            canvas=canvas,
            dataset_fingerprint=data.fingerprint,
            training_job=current,
            auto_activate=False,  # after the commit, with its verdict in the log
            notes=(
                f"Best epoch of {params.epochs} by validation accuracy, per member: "
                + ", ".join(map(str, result.best_epochs))
            ),
        )
        job_services.job_finish(job_id=job.pk, status=JobStatus.SUCCEEDED)
    return version
