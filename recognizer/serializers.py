"""What the prediction API accepts and answers: the API schema is made from these."""

from typing import Any

import numpy as np
from django.core.files.uploadedfile import UploadedFile
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import SkipField

from recognizer.models import BatchResult, InferenceBatch, Submission, SubmissionSource
from training.ml.mnist_style import to_uint8

_ROW = {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255},
        "minItems": 28, "maxItems": 28}  # fmt: skip
PIXELS_SCHEMA = {
    "type": "array",
    "items": _ROW,
    "minItems": 28,
    "maxItems": 28,
    "description": "28 rows of 28 ints 0-255, MNIST convention (light digit on black).",
}


@extend_schema_field(OpenApiTypes.STR)
class ImageInputField(serializers.Field):
    """An uploaded file (multipart) or a base64 / data URL string (JSON)."""

    default_error_messages = {
        "type": "image must be a base64 string, a data URL or an uploaded file.",
        "blank": "image is empty.",
    }

    def to_internal_value(self, data: Any) -> UploadedFile | str:
        if isinstance(data, UploadedFile):
            return data
        if not isinstance(data, str):
            self.fail("type")
        if not data.strip():
            self.fail("blank")
        return data


@extend_schema_field(PIXELS_SCHEMA)
class PixelsField(serializers.JSONField):
    """Checked cell by cell by recognizer.imaging.mnist.pixels_to_mnist, whose
    messages say which row is wrong."""


class PredictionRequestSerializer(serializers.Serializer):
    image = ImageInputField(
        required=False,
        help_text="PNG, JPEG or WebP as base64 or a data: URL; dark ink on a light or "
        "transparent background, up to 4096x4096.",
    )
    pixels = PixelsField(required=False, binary=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("image" in attrs) == ("pixels" in attrs):
            raise serializers.ValidationError(
                "Send exactly one of image (base64, data URL or file) or pixels (28x28).",
                code="missing_input",
            )
        return attrs


class PredictionQuerySerializer(serializers.Serializer):
    include = serializers.MultipleChoiceField(choices=["preprocessed"], required=False)
    preview = serializers.BooleanField(required=False, default=False)
    model_version = serializers.IntegerField(
        required=False, min_value=1, help_text="predict with this version (token or staff)"
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # ?include=preprocessed,other -> a list, as MultipleChoiceField expects.
        values = {key: data.get(key) for key in data}
        if values.get("include") is not None:
            values["include"] = [part for part in values["include"].split(",") if part]
        return super().to_internal_value(values)


class FeedbackSerializer(serializers.Serializer):
    label = serializers.IntegerField(min_value=0, max_value=9)


def preprocessed_rows(image28: np.ndarray) -> list[list[int]]:
    return to_uint8(image28).tolist()


class PredictionUploadSerializer(serializers.Serializer):
    """The multipart form of a prediction request."""

    image = serializers.FileField(help_text="A PNG, JPEG or WebP file.")


@extend_schema_field({"type": "array", "items": _ROW, "minItems": 28, "maxItems": 28})
class PreprocessedField(serializers.ListField):
    """The 28x28 image the model saw, taken from the serializer's context
    (`preprocessed`): present only when the client asked with
    `?include=preprocessed`."""

    def get_attribute(self, instance: Any) -> list[list[int]]:
        rows = self.context.get("preprocessed")
        if rows is None:
            raise SkipField()
        return rows


class PreviewSerializer(serializers.Serializer):
    """A prediction that was not stored (live preview while drawing)."""

    digit = serializers.IntegerField(min_value=0, max_value=9)
    confidence = serializers.FloatField(min_value=0, max_value=1)
    probabilities = serializers.ListField(
        child=serializers.FloatField(min_value=0, max_value=1), min_length=10, max_length=10
    )
    model_version = serializers.IntegerField()
    preprocessed = PreprocessedField(required=False)


class SubmissionSerializer(serializers.ModelSerializer):
    model_version = serializers.SerializerMethodField(help_text="The version that answered.")
    probabilities = serializers.ListField(
        child=serializers.FloatField(min_value=0, max_value=1), min_length=10, max_length=10
    )
    is_correct = serializers.BooleanField(
        allow_null=True, help_text="By the feedback label; null while nobody has said."
    )

    class Meta:
        model = Submission
        fields = [
            "id",
            "digit",
            "confidence",
            "probabilities",
            "model_version",
            "created_at",
            "source",
            "latency_ms",
            "feedback_label",
            "feedback_at",
            "is_correct",
        ]
        read_only_fields = fields

    def get_model_version(self, submission: Submission) -> int:
        # A fresh prediction knows its version number already (context): no
        # query for the ModelVersion row on every 201.
        return self.context.get("model_version") or submission.model_version.version


class PredictionSerializer(SubmissionSerializer):
    """A stored prediction as the create call answers it."""

    preprocessed = PreprocessedField(required=False)

    class Meta(SubmissionSerializer.Meta):
        fields = [*SubmissionSerializer.Meta.fields, "preprocessed"]
        read_only_fields = fields


class SubmissionFilterSerializer(serializers.Serializer):
    digit = serializers.IntegerField(min_value=0, max_value=9, required=False)
    source = serializers.ChoiceField(choices=SubmissionSource.choices, required=False)
    model_version = serializers.IntegerField(min_value=1, required=False)
    feedback = serializers.ChoiceField(
        choices=["right", "wrong", "none", "any"], required=False, help_text="by feedback label"
    )
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


class BatchJsonRequestSerializer(serializers.Serializer):
    """A JSON batch: the items are checked one by one by the worker, so a bad
    item becomes that item's error; only the list itself is checked here."""

    items = serializers.JSONField(
        help_text='[{"image": "<base64 or data URL>"} or {"pixels": [[...]]}, optional "ref"]'
    )
    callback_url = serializers.URLField(required=False, allow_blank=True, max_length=500)


class BatchUploadRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=".npy / .npz of N x 28 x 28 uint8, or a .zip of PNGs")
    callback_url = serializers.URLField(required=False, allow_blank=True, max_length=500)


class BatchSerializer(serializers.ModelSerializer):
    model_version = serializers.IntegerField(source="model_version.version")
    progress = serializers.FloatField()
    # Empty when the batch has none, so not documented as a URI.
    callback_url = serializers.CharField(help_text="Called once when the batch ends; may be empty.")

    class Meta:
        model = InferenceBatch
        fields = [
            "id",
            "status",
            "total",
            "processed",
            "failed_items",
            "progress",
            "model_version",
            "images_per_second",
            "input_format",
            "created_at",
            "started_at",
            "finished_at",
            "error",
            "attempts",
            "callback_url",
            "callback_status",
        ]
        read_only_fields = fields


class BatchResultSerializer(serializers.ModelSerializer):
    prediction_id = serializers.IntegerField(source="submission_id", allow_null=True)
    error = serializers.SerializerMethodField()

    class Meta:
        model = BatchResult
        fields = ["index", "ref", "digit", "confidence", "probabilities", "error", "prediction_id"]
        read_only_fields = fields

    def get_error(self, result: BatchResult) -> dict[str, str] | None:
        if not result.error_code:
            return None
        return {"code": result.error_code, "message": result.error_message}
