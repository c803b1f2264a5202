from django.conf import settings
from django.db import models
from django.db.models import Q

from mnistsite.queued_work import JobStatus, QueuedWork


class JobTrigger(models.TextChoices):
    MANUAL = "manual"  # staff in the admin, the API, the train command
    FEEDBACK = "feedback"  # enough new feedback labels arrived (beat)


class TrainingJob(QueuedWork):
    """One request to train a model, run by a worker on the `training` queue
    (the life of QueuedWork: a message delivered twice trains once)."""

    preset = models.CharField(max_length=16, blank=True)
    # The full, validated parameters the job runs with (preset + overrides).
    params = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Live progress: epoch k of `epochs`, the fraction of epoch k done.
    epoch = models.PositiveSmallIntegerField(default=0)
    epochs = models.PositiveSmallIntegerField(default=0)
    epoch_fraction = models.FloatField(default=0.0)
    eta_seconds = models.FloatField(null=True, blank=True)
    # One dict per finished epoch: epoch, loss, accuracy, val_loss, val_accuracy, seconds.
    metrics = models.JSONField(default=list, blank=True)
    feedback_samples_used = models.PositiveIntegerField(null=True, blank=True)
    # The newest feedback sample when the job was created: labels after it
    # are "new" for retrain-on-feedback.
    feedback_watermark = models.PositiveBigIntegerField(default=0)
    trigger = models.CharField(max_length=16, choices=JobTrigger.choices, default=JobTrigger.MANUAL)
    # What a running job is doing now: "fetching MNIST", "training", ...
    stage = models.CharField(max_length=100, blank=True)
    # What the worker did, a line per step (claimed, data, each epoch, result).
    log = models.TextField(blank=True)

    class Meta(QueuedWork.Meta):
        ordering = ["-created_at"]
        constraints = [
            *QueuedWork.Meta.constraints,
            models.CheckConstraint(
                condition=Q(epoch_fraction__gte=0) & Q(epoch_fraction__lte=1),
                name="training_job_epoch_fraction_0_1",
            ),
            # One training at a time: two jobs on 2 cores would each run at half
            # speed and race to the registry. A second claim waits (see job_claim).
            models.UniqueConstraint(
                fields=["status"],
                condition=Q(status="running"),
                name="one_running_training_job",
            ),
            # Retrain-on-feedback never runs two jobs at once.
            models.UniqueConstraint(
                fields=["trigger"],
                condition=Q(trigger="feedback", status__in=["queued", "running"]),
                name="one_unfinished_feedback_job",
            ),
        ]

    def __str__(self) -> str:
        return f"Training job {self.pk} ({self.status})"

    @property
    def progress(self) -> float:
        """The whole job's progress, 0..1."""
        if self.status == JobStatus.SUCCEEDED:
            return 1.0
        if not self.epochs or not self.epoch:
            return 0.0
        return min(1.0, ((self.epoch - 1) + self.epoch_fraction) / self.epochs)


class ModelVersion(models.Model):
    """A trained model in the registry. At most one is active (serving)."""

    version = models.PositiveIntegerField(unique=True)
    architecture = models.CharField(max_length=64)
    parameter_count = models.PositiveIntegerField(default=0)
    # Relative to MODEL_STORE_DIR; written once, never overwritten.
    artifact_path = models.CharField(max_length=255, blank=True)
    artifact_size = models.PositiveBigIntegerField(default=0)
    artifact_sha256 = models.CharField(max_length=64, blank=True)
    # The same model converted for single images (LiteRT); empty for versions
    # registered before there was one: they serve through TensorFlow.
    compiled_path = models.CharField(max_length=255, blank=True)
    compiled_sha256 = models.CharField(max_length=64, blank=True)
    training_job = models.OneToOneField(
        TrainingJob,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="model_version",
    )
    # {"mnist": {file: sha256}, "feedback_samples": n,
    #  "pendigits": {"sha256", "writers", "digits", "copies", "samples"} or absent}
    dataset_fingerprint = models.JSONField(default=dict, blank=True)
    test_accuracy = models.FloatField(null=True, blank=True)
    test_loss = models.FloatField(null=True, blank=True)
    per_class_accuracy = models.JSONField(default=list, blank=True)
    confusion_matrix = models.JSONField(default=list, blank=True)
    # The canvas score: accuracy on the held-out writers' pen-drawn digits,
    # rendered as the drawing page draws them (training/ml/pendigits.py).
    # Empty when the pen-drawn digits were unavailable to the job. Scores
    # compare only between versions scored on the same canvas set.
    canvas_accuracy = models.FloatField(null=True, blank=True)
    canvas_per_class_accuracy = models.JSONField(default=list, blank=True)
    canvas_confusion_matrix = models.JSONField(default=list, blank=True)
    canvas_set_sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    notes = models.TextField(blank=True)
    is_active = models.BooleanField(default=False)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=Q(is_active=True),
                name="one_active_model_version",
            ),
            models.CheckConstraint(
                condition=Q(compiled_path="", compiled_sha256="")
                | (~Q(compiled_path="") & ~Q(compiled_sha256="")),
                name="model_version_compiled_path_and_sha256_together",
            ),
            models.CheckConstraint(
                condition=(Q(canvas_accuracy__isnull=True) & Q(canvas_set_sha256=""))
                | (
                    Q(canvas_accuracy__gte=0) & Q(canvas_accuracy__lte=1) & ~Q(canvas_set_sha256="")
                ),
                name="model_version_canvas_score_and_set_together",
            ),
        ]

    def __str__(self) -> str:
        return f"Model v{self.version}"


class ModelActivation(models.Model):
    """Who made which version the active one, and when: the activation history."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="activations")
    previous_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    activated_at = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-activated_at", "-pk"]

    def __str__(self) -> str:
        return f"v{self.version.version} activated at {self.activated_at:%Y-%m-%d %H:%M}"


class SampleSource(models.TextChoices):
    FEEDBACK = "feedback"  # a visitor said which digit the prediction should have been
    RELABEL = "relabel"  # staff corrected a label in the admin
    IMPORT = "import"


class LabelledSample(models.Model):
    """A 28x28 image (MNIST convention: light digit on black, uint8 row-major)
    with its true label. Training adds these to MNIST when include_feedback
    is on. The submission it came from points here (recognizer -> training)."""

    image = models.BinaryField()
    label = models.PositiveSmallIntegerField()
    source = models.CharField(max_length=16, choices=SampleSource.choices)
    excluded = models.BooleanField(default=False, help_text="Left out of training.")
    created_at = models.DateTimeField(auto_now_add=True)
    # For feedback: which version read this image and what it said. Live
    # accuracy (how often a version is right on what people draw) is the
    # share of its samples where the two agree.
    model_version = models.ForeignKey(
        "ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="feedback_samples",
    )
    predicted_digit = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(label__lte=9), name="labelled_sample_label_0_9"),
            models.CheckConstraint(
                condition=Q(source__in=SampleSource.values),
                name="labelled_sample_source_valid",
            ),
            models.CheckConstraint(
                condition=Q(predicted_digit__isnull=True) | Q(predicted_digit__lte=9),
                name="labelled_sample_predicted_digit_0_9",
            ),
        ]

    def __str__(self) -> str:
        return f"Sample {self.pk}: {self.label} ({self.source})"
