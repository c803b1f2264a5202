"""The prediction API: thin views over recognizer.services and selectors."""

import time
from typing import Any

from django.conf import settings
from django.shortcuts import get_object_or_404
from rest_framework import permissions, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mnistsite.api.access import AnonThrottle, IsStaffOrToken, PreviewThrottle, UserThrottle
from mnistsite.api.errors import ApiError, PayloadTooLarge, enforce_body_limit
from recognizer.inputs import (
    DigitInput,
    input_from_base64,
    input_from_image_bytes,
    input_from_pixels,
)
from recognizer.models import Submission, SubmissionSource
from recognizer.predictor import ModelUnavailable, NoActiveModel
from recognizer.preprocessing import ImageLimits, PreprocessingError
from recognizer.selectors import (
    submission_is_owned_by,
    submissions_filtered,
    submissions_visible_to,
)
from recognizer.serializers import (
    FeedbackSerializer,
    PredictionQuerySerializer,
    PredictionRequestSerializer,
    PreviewSerializer,
    SubmissionFilterSerializer,
    SubmissionSerializer,
    preprocessed_rows,
)
from recognizer.services import predict, submission_create, submission_feedback


def image_limits() -> ImageLimits:
    return ImageLimits(max_bytes=settings.PREDICTION_MAX_IMAGE_BYTES)


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
        message="The active model could not be loaded; staff have been told. Try again soon.",
    )


class PredictionListCreateApi(ListAPIView):
    """POST: recognise one digit (anyone, throttled). GET: stored predictions
    (staff see all, token users their own)."""

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

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method == "POST":
            enforce_body_limit(request, request_body_limit())
        super().initial(request, *args, **kwargs)

    def get_queryset(self):
        filters = SubmissionFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return submissions_filtered(
            submissions_visible_to(self.request.user), **filters.validated_data
        )

    def post(self, request: Request) -> Response:
        started = time.perf_counter()
        query = PredictionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        body = PredictionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        digit_input = digit_input_from(body.validated_data)
        try:
            prediction = predict(digit_input, started=started)
        except (NoActiveModel, ModelUnavailable) as exc:
            raise model_unavailable(exc) from None
        if query.validated_data["preview"]:
            answer, status_code = PreviewSerializer(prediction).data, status.HTTP_200_OK
        else:
            submission = submission_create(
                digit_input=digit_input,
                prediction=prediction,
                source=_source(request),
                user=request.user,
                session_key=request.session.session_key,
            )
            answer, status_code = SubmissionSerializer(submission).data, status.HTTP_201_CREATED
        if "preprocessed" in query.validated_data.get("include", ()):
            answer["preprocessed"] = preprocessed_rows(digit_input.image28)
        return Response(answer, status=status_code)


def _source(request: Request) -> SubmissionSource:
    """A browser session without a token is the drawing page (which always
    starts a session); tokens and cookie-less clients are the API."""
    if request.auth is None and request.session.session_key:
        return SubmissionSource.WEB
    return SubmissionSource.API


class PredictionFeedbackApi(APIView):
    """The true digit for a prediction, from whoever made it or from staff."""

    permission_classes = [permissions.AllowAny]  # ownership is checked below

    def post(self, request: Request, pk: int) -> Response:
        submission = get_object_or_404(Submission, pk=pk)
        if not (
            request.user.is_staff
            or submission_is_owned_by(
                submission, user=request.user, session_key=request.session.session_key
            )
        ):
            raise ApiError(
                status_code=403,
                code="not_your_prediction",
                message="Feedback is taken from whoever made the prediction, or from staff.",
            )
        body = FeedbackSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        submission = submission_feedback(
            submission_id=submission.pk, label=body.validated_data["label"], by=request.user
        )
        return Response(SubmissionSerializer(submission).data)
