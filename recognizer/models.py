import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q

from training.models import LabelledSample, ModelVersion


def session_hash(session_key: str | None) -> str:
    """What identifies an anonymous visitor's submissions: a hash, so a copy of
    the table cannot be used to take over their sessions."""
    if not session_key:
        return ""
    return hashlib.sha256(f"submission-owner:{session_key}".encode()).hexdigest()


class SubmissionSource(models.TextChoices):
    WEB = "web"
    API = "api"
    BATCH = "batch"


class Submission(models.Model):
    """One stored prediction: what was sent, what the model saw, what it said,
    and (later) the true digit from whoever made it."""

    Source = SubmissionSource

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    # The bytes as uploaded (bounded by PREDICTION_MAX_IMAGE_BYTES); empty when
    # the client sent a 28x28 pixel array, which `preprocessed` then holds.
    image = models.BinaryField(blank=True)
    image_format = models.CharField(max_length=8, help_text="PNG, JPEG, WEBP or pixels")
    # The 28x28 the model saw: uint8, MNIST convention, row-major (784 bytes).
    preprocessed = models.BinaryField()
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
        indexes = [models.Index(fields=["model_version", "feedback_label"])]

    def __str__(self) -> str:
        return f"Submission {self.pk}: {self.digit}"

    @property
    def is_correct(self) -> bool | None:
        """Right or wrong by the feedback label; None while nobody has said."""
        return None if self.feedback_label is None else self.feedback_label == self.digit
