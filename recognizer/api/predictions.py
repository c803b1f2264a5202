"""The prediction API: thin views over recognizer.services and selectors."""

import time
from typing import Any

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mnistsite.api.access import AnonThrottle, IsStaffOrToken, PreviewThrottle, UserThrottle
from mnistsite.api.answers import Answers
from mnistsite.api.errors import ApiError, PayloadTooLarge, enforce_body_limit
from mnistsite.api.schema import error_responses
from recognizer.imaging.decoding import ImageLimits, PreprocessingError
from recognizer.imaging.inputs import (
    DigitInput,
    input_from_base64,
    input_from_image_bytes,
    input_from_pixels,
)
from recognizer.models import Submission, SubmissionSource
from recognizer.predictor import (
    LoadedModel,
    ModelUnavailable,
    NoActiveModel,
    model_for_version,
    model_ref_for_version,
)
from recognizer.selectors import (
    submission_feedback_allowed,
    submissions_filtered,
    submissions_visible_to,
)
from recognizer.serializers import (
    FeedbackSerializer,
    PredictionQuerySerializer,
    PredictionRequestSerializer,
    PredictionSerializer,
    PredictionUploadSerializer,
    PreviewSerializer,
    SubmissionFilterSerializer,
    SubmissionSerializer,
    preprocessed_rows,
)
from recognizer.services import predict, submission_create, submission_feedback

# The create call's answers, as their serializers give them.
PREDICTION = Answers(PredictionSerializer)
PREVIEW = Answers(PreviewSerializer)


def image_limits() -> ImageLimits:
    return ImageLimits(
        max_bytes=settings.PREDICTION_MAX_IMAGE_BYTES,
        max_decoded_bytes=settings.PREDICTION_MAX_DECODED_BYTES,
    )


def request_body_limit() -> int:
    """Room for the largest accepted image as base64 (4/3) plus the JSON or
    multipart around it."""
    return settings.PREDICTION_MAX_IMAGE_BYTES * 4 // 3 + 64 * 1024


def digit_input_from(data: dict[str, Any]) -> DigitInput:
    """Validated request fields -> the model's input; 4xx on anything wrong."""
    limits = image_limits()
    try:
        if "pixels" in data:
            return input_from_pixels(data["pixels"])
        image = data["image"]
        if isinstance(image, str):
            return input_from_base64(image, limits)
        if image.size > limits.max_bytes:
            raise PayloadTooLarge(limits.max_bytes)
        return input_from_image_bytes(image.read(), limits)
    except PreprocessingError as exc:
        raise ApiError(status_code=400, code=exc.code, message=exc.message) from None


def model_unavailable(exc: Exception) -> ApiError:
    if isinstance(exc, NoActiveModel):
        return ApiError(
            status_code=503,
            code="no_active_model",
            message="No model version is active, so digits cannot be recognised right now.",
        )
    return ApiError(
        status_code=503,
        code="model_unavailable",
        message="The active model could not be loaded on this server (the error is logged); "
        "try again soon.",
    )


class PredictionListCreateApi(ListAPIView):
    """POST: recognise one digit (anyone, throttled). GET: stored predictions
    (with recognizer.view_submission: all; token users their own)."""

    serializer_class = SubmissionSerializer

    def get_permissions(self) -> list[permissions.BasePermission]:
        if self.request.method == "POST":
            return [permissions.AllowAny()]
        return [IsStaffOrToken()]

    def get_throttles(self) -> list[Any]:
        if self.request.method != "POST":
            return []
        if self.request.query_params.get("preview", "").lower() in {"1", "true", "yes"}:
            return [PreviewThrottle()]
        return [AnonThrottle(), UserThrottle()]

    def max_body_bytes(self) -> int:
        return request_body_limit()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method == "POST":
            enforce_body_limit(request, self.max_body_bytes())
        super().initial(request, *args, **kwargs)

    @extend_schema(
        summary="List stored predictions",
        parameters=[SubmissionFilterSerializer],
        responses={200: SubmissionSerializer(many=True), **error_responses(400, 401, 403)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = SubmissionFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return submissions_filtered(
            submissions_visible_to(self.request.user), **filters.validated_data
        )

    @extend_schema(
        summary="Recognise one digit",
        description=(
            "Send a drawing (base64 / data URL in JSON, or a multipart file) or a 28x28 "
            "pixel array. `201`: stored as a prediction. With `?preview=true`: `200`, "
            "nothing stored (live guesses while drawing)."
        ),
        parameters=[PredictionQuerySerializer],
        request={
            "application/json": PredictionRequestSerializer,
            "multipart/form-data": PredictionUploadSerializer,
        },
        responses={
            201: PredictionSerializer,
            200: OpenApiResponse(PreviewSerializer, description="A preview: not stored."),
            **error_responses(400, 403, 404, 413, 429, 503),
        },
        examples=[
            OpenApiExample(
                "A stored prediction",
                response_only=True,
                status_codes=["201"],
                value={
                    "id": 42,
                    "digit": 7,
                    "confidence": 0.9981,
                    "probabilities": [
                        0.0,
                        0.0002,
                        0.0011,
                        0.0003,
                        0.0,
                        0.0,
                        0.0,
                        0.9981,
                        0.0001,
                        0.0002,
                    ],
                    "model_version": 1,
                    "created_at": "2026-11-25T17:20:00Z",
                    "source": "api",
                    "latency_ms": 3.1,
                    "feedback_label": None,
                    "feedback_at": None,
                    "is_correct": None,
                },
            ),
            OpenApiExample(
                "A blank drawing",
                response_only=True,
                status_codes=["400"],
                value={"code": "no_ink", "message": "The image has no ink.", "details": {}},
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        started = time.perf_counter()
        query = PredictionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        body = PredictionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        digit_input = digit_input_from(body.validated_data)
        model = _chosen_model(request, query.validated_data.get("model_version"))
        try:
            prediction = predict(digit_input, started=started, model=model)
        except (NoActiveModel, ModelUnavailable) as exc:
            raise model_unavailable(exc) from None
        preprocessed = None
        if "preprocessed" in query.validated_data.get("include", ()):
            preprocessed = preprocessed_rows(digit_input.image28)
        if query.validated_data["preview"]:
            return Response(PREVIEW.of(prediction, preprocessed=preprocessed))
        submission = submission_create(
            digit_input=digit_input,
            prediction=prediction,
            source=_source(request),
            user=request.user,
            session_key=request.session.session_key,
        )
        answer = PREDICTION.of(
            submission, model_version=prediction.model_version, preprocessed=preprocessed
        )
        return Response(answer, status=status.HTTP_201_CREATED)


def _chosen_model(request: Request, version: int | None) -> LoadedModel | None:
    """`?model_version=N`: a given version instead of the active one, for
    comparing versions side by side (tokens and staff only)."""
    if version is None:
        return None
    if not IsStaffOrToken().has_permission(request, None):
        raise ApiError(
            status_code=403,
            code="permission_denied",
            message="Choosing the model version needs an API token or a staff account.",
        )
    ref = model_ref_for_version(version)
    if ref is None:
        raise ApiError(status_code=404, code="not_found", message=f"No model version {version}.")
    try:
        return model_for_version(ref)
    except ModelUnavailable as exc:
        raise model_unavailable(exc) from None


def _source(request: Request) -> SubmissionSource:
    """A browser session without a token is the drawing page (which always
    starts a session); tokens and cookie-less clients are the API."""
    if request.auth is None and request.session.session_key:
        return SubmissionSource.WEB
    return SubmissionSource.API


class PredictionFeedbackApi(APIView):
    """The true digit for a prediction, from whoever made it or from a user
    who may relabel submissions."""

    permission_classes = [permissions.AllowAny]  # ownership is checked below
    throttle_classes = [AnonThrottle, UserThrottle]  # counted with the client's predictions

    @extend_schema(
        summary="Say which digit it really was",
        request=FeedbackSerializer,
        responses={200: SubmissionSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, pk: int) -> Response:
        submission = get_object_or_404(Submission, pk=pk)
        session_key = request.session.session_key
        if not submission_feedback_allowed(submission, user=request.user, session_key=session_key):
            raise ApiError(
                status_code=403,
                code="not_your_prediction",
                message="Feedback is taken from whoever made the prediction, or from a user "
                "with the permission recognizer.change_submission.",
            )
        body = FeedbackSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        submission = submission_feedback(
            submission_id=submission.pk, label=body.validated_data["label"], by=request.user
        )
        return Response(SubmissionSerializer(submission).data)
