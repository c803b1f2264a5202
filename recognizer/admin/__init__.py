"""Submissions, inference batches and their results in the Django admin."""

from recognizer.admin.batches import BatchResultAdmin, InferenceBatchAdmin
from recognizer.admin.submissions import SubmissionAdmin

__all__ = ["BatchResultAdmin", "InferenceBatchAdmin", "SubmissionAdmin"]
