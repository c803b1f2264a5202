"""Model versions over the API: their metrics and live accuracy, and
activation (with training.change_modelversion)."""

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import permissions, serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mnistsite.api.access import IsStaffOrToken, requires
from mnistsite.api.errors import ApiError
from mnistsite.api.schema import error_responses
from training.models import ModelVersion
from training.selectors import LiveAccuracy, live_accuracy_by_version
from training.services import version_activate


class ModelVersionSerializer(serializers.ModelSerializer):
    live_accuracy = serializers.SerializerMethodField()
    live_accuracy_count = serializers.SerializerMethodField()
    training_job = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    per_class_accuracy = serializers.ListField(
        child=serializers.FloatField(), help_text="MNIST test accuracy of digits 0-9."
    )
    confusion_matrix = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="10x10 counts; rows: true digit, columns: predicted.",
    )
    canvas_accuracy = serializers.FloatField(
        allow_null=True,
        help_text=(
            "The canvas score: accuracy on the held-out writers' pen-drawn digits (UCI "
            "pendigits writers 5, 10, ..., 30, whom no model trains on), drawn as the site's "
            "drawing page draws them. Null when the job had no pen-drawn digits."
        ),
    )
    canvas_per_class_accuracy = serializers.ListField(
        child=serializers.FloatField(),
        help_text="The canvas score of digits 0-9; empty without a canvas score.",
    )
    canvas_confusion_matrix = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text=(
            "10x10 counts on the held-out writers' drawings; rows: true digit, columns: "
            "predicted. Empty without a canvas score."
        ),
    )
    canvas_set_sha256 = serializers.CharField(
        help_text=(
            "Which canvas set the score is on: canvas scores compare only between versions "
            "with the same value. Empty without a canvas score."
        )
    )
    dataset_fingerprint = serializers.DictField(
        help_text=(
            "What it was trained on: `mnist` (the files' sha256), `feedback_samples` (how many) "
            "and, when pen-drawn digits were mixed in, `pendigits` (the file's sha256, the "
            "training writers, their digit count, drawings of each, samples in all)."
        )
    )

    class Meta:
        model = ModelVersion
        fields = [
            "version",
            "is_active",
            "architecture",
            "parameter_count",
            "test_accuracy",
            "test_loss",
            "per_class_accuracy",
            "confusion_matrix",
            "canvas_accuracy",
            "canvas_per_class_accuracy",
            "canvas_confusion_matrix",
            "canvas_set_sha256",
            "live_accuracy",
            "live_accuracy_count",
            "artifact_size",
            "artifact_sha256",
            "dataset_fingerprint",
            "training_job",
            "notes",
            "created_at",
        ]
        read_only_fields = fields

    def _live(self, version: ModelVersion) -> LiveAccuracy:
        live = self.context.get("live_accuracy")
        if live is None:
            live = self.context["live_accuracy"] = live_accuracy_by_version()
        return live.get(version.pk, LiveAccuracy(0, 0))

    def get_live_accuracy(self, version: ModelVersion) -> float | None:
        return self._live(version).accuracy

    def get_live_accuracy_count(self, version: ModelVersion) -> int:
        """How many feedback labels the live accuracy rests on."""
        return self._live(version).labelled


class ActivationSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)


class IsStaffOrTokenOrReadingTheActiveVersion(permissions.BasePermission):
    """Anyone may read the active version's facts; the rest needs a token or staff."""

    message = "Reading this model version needs an API token or a staff account."

    def has_permission(self, request: Request, view: Any) -> bool:
        return True

    def has_object_permission(self, request: Request, view: Any, version: ModelVersion) -> bool:
        return version.is_active or IsStaffOrToken().has_permission(request, view)


@extend_schema_view(
    get=extend_schema(
        summary="Model versions with their metrics",
        responses={200: ModelVersionSerializer(many=True), **error_responses(401, 403)},
    )
)
class ModelVersionListApi(ListAPIView):
    permission_classes = [IsStaffOrToken]
    serializer_class = ModelVersionSerializer
    queryset = ModelVersion.objects.all()


@extend_schema_view(
    get=extend_schema(
        summary="One model version (anyone may read the active one)",
        responses={200: ModelVersionSerializer, **error_responses(401, 403, 404)},
    )
)
class ModelVersionDetailApi(RetrieveAPIView):
    """`/models/{version}/`, or `/models/active/` for the one that serves."""

    permission_classes = [IsStaffOrTokenOrReadingTheActiveVersion]
    serializer_class = ModelVersionSerializer
    queryset = ModelVersion.objects.all()
    lookup_field = "version"

    def get_object(self) -> ModelVersion:
        if self.kwargs.get("version") is None:
            version = ModelVersion.objects.filter(is_active=True).first()
            if version is None:
                raise ApiError(
                    status_code=404, code="no_active_model", message="No model version is active."
                )
            self.check_object_permissions(self.request, version)
            return version
        return super().get_object()


class ModelVersionActivateApi(APIView):
    """Make a version the one that serves (web processes switch within about
    a second). The activation history records who and why."""

    permission_classes = [requires("training.change_modelversion")]

    @extend_schema(
        summary="Activate a model version (needs training.change_modelversion)",
        request=ActivationSerializer,
        responses={200: ModelVersionSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, version: int) -> Response:
        body = ActivationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reason = body.validated_data.get("reason") or "activated over the API"
        if not ModelVersion.objects.filter(version=version).exists():
            raise ApiError(
                status_code=404, code="not_found", message=f"No model version {version}."
            )
        activated = version_activate(version=version, activated_by=request.user, reason=reason)
        return Response(ModelVersionSerializer(activated).data)
