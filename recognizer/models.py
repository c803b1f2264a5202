import hashlib

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from mnistsite.queued_work import JobStatus, QueuedWork
from recognizer.submission_store import submission_storage
from training.models import LabelledSample, ModelVersion


def session_hash(session_key: str | None) -> str:
    """What identifies an anonymous visitor's submissions: a hash, so a copy of
    the table cannot be used to take over their sessions."""
    if not session_key:
        return ""
    return hashlib.sha256(f"submission-owner:{session_key}".encode()).hexdigest()


class SubmissionSource(models.TextChoices):
    WEB = "web", "drawing page"
    API = "api", "API"
    BATCH = "batch", "batch"


class Submission(models.Model):
    """One stored prediction: what was sent, what the model saw, what it said,
    and (later) the true digit from whoever made it."""

    Source = SubmissionSource

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    # Files in the `submissions` storage (recognizer/submission_store.py).
    # The upload as sent (bounded by PREDICTION_MAX_IMAGE_BYTES); empty for a
    # 28x28 pixel array, and once SUBMISSION_ORIGINAL_RETENTION_DAYS passed.
    image = models.FileField(storage=submission_storage, max_length=100, blank=True)
    image_format = models.CharField(max_length=8, help_text="PNG, JPEG, WEBP or pixels")
    # The 28x28 the model saw, a grey PNG (MNIST convention); kept for retraining.
    preprocessed = models.FileField(storage=submission_storage, max_length=100)
    digit = models.PositiveSmallIntegerField()
    confidence = models.FloatField()
    probabilities = models.JSONField()
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="submissions"
    )
    latency_ms = models.FloatField(help_text="Preprocessing and inference, in milliseconds.")
    # Who made it: the authenticated user, or for anonymous visitors a hash of
    # their session key (never the raw key, never an IP address).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="submissions",
    )
    session_hash = models.CharField(max_length=64, blank=True, db_index=True)
    feedback_label = models.PositiveSmallIntegerField(null=True, blank=True)
    feedback_at = models.DateTimeField(null=True, blank=True)
    feedback_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The corrected sample handed to training (recognizer -> training only).
    labelled_sample = models.OneToOneField(
        LabelledSample,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="submission",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(digit__lte=9), name="submission_digit_0_9"),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1),
                name="submission_confidence_0_1",
            ),
            models.CheckConstraint(
                condition=Q(source__in=SubmissionSource.values), name="submission_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(feedback_label__isnull=True) | Q(feedback_label__lte=9),
                name="submission_feedback_label_0_9",
            ),
            models.CheckConstraint(
                condition=Q(feedback_label__isnull=True, feedback_at__isnull=True)
                | Q(feedback_label__isnull=False, feedback_at__isnull=False),
                name="submission_feedback_label_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["model_version", "feedback_label"]),
            # The retention task's look-up: originals still kept, oldest first.
            models.Index(
                fields=["created_at"],
                condition=~Q(image=""),
                name="submission_original_kept",
            ),
        ]

    def __str__(self) -> str:
        return f"Submission {self.pk}: {self.digit}"

    @property
    def is_correct(self) -> bool | None:
        """Right or wrong by the feedback label; None while nobody has said."""
        return None if self.feedback_label is None else self.feedback_label == self.digit


class InferenceBatch(QueuedWork):
    """Many images recognised by a worker (queue `inference`) with the model
    version that was active when the batch was created (the life of
    QueuedWork; a batch whose worker died resumes where it stopped)."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inference_batches"
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="inference_batches"
    )
    input_format = models.CharField(max_length=8, help_text="json, npy, npz or zip")
    # The upload itself, kept in the database (not on a disk the web and the
    # workers might not share) until the batch is finished.
    payload = models.BinaryField(blank=True)
    total = models.PositiveIntegerField()
    processed = models.PositiveIntegerField(default=0)
    failed_items = models.PositiveIntegerField(default=0)
    images_per_second = models.FloatField(null=True, blank=True)
    # Deliveries that started work: more than one means a worker died and the
    # batch was resumed where it stopped.
    attempts = models.PositiveSmallIntegerField(default=0)
    callback_url = models.URLField(max_length=500, blank=True)
    callback_status = models.CharField(
        max_length=16, blank=True, help_text="pending, delivered or failed; empty without a URL"
    )

    class Meta(QueuedWork.Meta):
        ordering = ["-created_at", "-pk"]
        constraints = [
            *QueuedWork.Meta.constraints,
            models.CheckConstraint(
                condition=Q(processed__lte=F("total")), name="inference_batch_processed_le_total"
            ),
            models.CheckConstraint(
                condition=Q(total__gte=1) & Q(total__lte=10_000),
                name="inference_batch_total_1_10000",
            ),
        ]

    def __str__(self) -> str:
        return f"Batch {self.pk} ({self.status}, {self.processed}/{self.total})"

    @property
    def progress(self) -> float:
        return 1.0 if self.status == JobStatus.SUCCEEDED else self.processed / self.total


class BatchResult(models.Model):
    """The answer for one item of a batch: a digit, or why the item was refused.
    One per (batch, index), so a re-delivered task adds nothing."""

    batch = models.ForeignKey(InferenceBatch, on_delete=models.CASCADE, related_name="results")
    index = models.PositiveIntegerField()
    ref = models.CharField(max_length=200, blank=True)
    submission = models.OneToOneField(
        Submission, null=True, blank=True, on_delete=models.SET_NULL, related_name="batch_result"
    )
    digit = models.PositiveSmallIntegerField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    probabilities = models.JSONField(null=True, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    error_message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["batch", "index"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "index"], name="one_result_per_batch_item"),
            models.CheckConstraint(
                condition=(Q(digit__isnull=False) & Q(error_code=""))
                | (Q(digit__isnull=True) & ~Q(error_code="")),
                name="batch_result_digit_or_error",
            ),
        ]

    def __str__(self) -> str:
        return f"Batch {self.batch_id} item {self.index}"


class PendingImage(models.Model):
    """A submission's file that the store could not take when the submission
    was made: committed with its row, so nothing is lost while the store is
    down, and moved into the store by beat's flush task once it answers."""

    key = models.CharField(max_length=100, unique=True)
    data = models.BinaryField()
    size = models.PositiveIntegerField(help_text="len(data), summed to bound the backlog")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"Pending image {self.key}"
