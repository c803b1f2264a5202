"""What the training job API accepts and answers: the API schema is made from these."""

from typing import Any

from rest_framework import serializers

from mnistsite.queued_work import JobStatus
from training.models import TrainingJob
from training.params import PRESETS


class TrainingJobRequestSerializer(serializers.Serializer):
    """A preset, optionally with explicit parameters on top; the parameters
    themselves are checked by training.params (one message per field)."""

    preset = serializers.ChoiceField(choices=list(PRESETS), required=False)
    architecture = serializers.CharField(required=False)
    epochs = serializers.JSONField(required=False)
    batch_size = serializers.JSONField(required=False)
    learning_rate = serializers.JSONField(required=False)
    schedule = serializers.CharField(required=False)
    augment = serializers.JSONField(required=False)
    include_feedback = serializers.JSONField(required=False)
    seed = serializers.JSONField(required=False)
    members = serializers.JSONField(required=False)
    label_smoothing = serializers.JSONField(required=False)
    pen_copies = serializers.JSONField(required=False)
    max_train_samples = serializers.JSONField(required=False)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["is not a training parameter"] for name in unknown}
                )
        return super().to_internal_value(data)


class TrainingJobSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(help_text="The whole job, 0..1.")
    model_version = serializers.SerializerMethodField(
        help_text="The version it produced; null until then."
    )
    requested_by = serializers.CharField(
        source="requested_by.get_username", default=None, allow_null=True
    )
    params = serializers.DictField(help_text="The full parameters the job runs with.")
    metrics = serializers.ListField(
        child=serializers.DictField(child=serializers.FloatField()),
        help_text="One per finished epoch: epoch, loss, accuracy, val_loss, val_accuracy, seconds.",
    )

    class Meta:
        model = TrainingJob
        fields = [
            "id",
            "status",
            "preset",
            "params",
            "progress",
            "epoch",
            "epochs",
            "epoch_fraction",
            "eta_seconds",
            "metrics",
            "model_version",
            "feedback_samples_used",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "cancel_requested",
            "stage",
            "error",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "stage": {
                "help_text": 'What a running job is doing now, e.g. "fetching MNIST: 3.1 of '
                '11.6 MB", "drawing 11,990 pen-drawn digits", "training", "evaluating"; '
                "for a finished job, the last thing it did (where a failed job stopped)."
            }
        }

    def get_model_version(self, job: TrainingJob) -> int | None:
        version = getattr(job, "model_version", None)
        return version.version if version is not None else None


class TrainingJobFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=JobStatus.choices, required=False)
    preset = serializers.ChoiceField(choices=list(PRESETS), required=False)
