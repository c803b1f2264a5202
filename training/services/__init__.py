"""Writes to the training app's data. Views, tasks and commands call these."""

from training.services.jobs import (
    TrainingBusy,
    job_cancel,
    job_claim,
    job_create,
    job_fail,
    job_log,
    job_record_epoch,
    job_record_progress,
    job_set_stage,
    job_start_on_feedback,
    jobs_reap_stale,
)
from training.services.registry import version_activate, version_register, version_rollback
from training.services.samples import labelled_sample_create

__all__ = [
    "TrainingBusy",
    "job_cancel",
    "job_claim",
    "job_create",
    "job_fail",
    "job_log",
    "job_record_epoch",
    "job_record_progress",
    "job_set_stage",
    "job_start_on_feedback",
    "jobs_reap_stale",
    "labelled_sample_create",
    "version_activate",
    "version_register",
    "version_rollback",
]
