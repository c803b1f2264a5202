"""Inference batches over the API: create (202 before any inference), status
and progress, results as JSON pages or CSV, cancel."""

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from mnistsite.api.access import IsStaffOrToken, UserThrottle
from mnistsite.api.errors import (
    ApiError,
    already_finished,
    broker_unavailable,
    enforce_body_limit,
)
from mnistsite.api.schema import error_responses
from mnistsite.queued_work import BrokerUnavailable
from recognizer.api.predictions import model_unavailable
from recognizer.imaging.containers import BatchInputError, json_payload
from recognizer.models import BatchResult, InferenceBatch
from recognizer.predictor import NoActiveModel
from recognizer.selectors import batches_visible_to
from recognizer.serializers import (
    BatchJsonRequestSerializer,
    BatchResultSerializer,
    BatchSerializer,
    BatchUploadRequestSerializer,
)
from recognizer.services.batches import batch_cancel, batch_create

CSV_COLUMNS = ["index", "ref", "digit", "confidence", *[f"p{digit}" for digit in range(10)],
               "error_code", "error_message", "prediction_id"]  # fmt: skip


class BatchListCreateApi(ListAPIView):
    """POST: a batch of up to 10,000 images, answered 202 at once; a worker
    does the inference. GET: your batches (with recognizer.view_inferencebatch:
    everyone's)."""

    permission_classes = [IsStaffOrToken]
    throttle_classes = [UserThrottle]
    serializer_class = BatchSerializer

    def max_body_bytes(self) -> int:
        return settings.BATCH_MAX_UPLOAD_BYTES

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method == "POST":
            enforce_body_limit(request, self.max_body_bytes())
        super().initial(request, *args, **kwargs)

    def get_queryset(self):
        return batches_visible_to(self.request.user)

    @extend_schema(summary="List your inference batches", responses={
        200: BatchSerializer(many=True), **error_responses(401, 403)})  # fmt: skip
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Start an inference batch",
        description=(
            "Up to 10,000 images: a JSON list of items, an uploaded `.npy` / `.npz` "
            "(N x 28 x 28 uint8) or a `.zip` of PNG files. Answered `202` before any "
            "inference; poll the batch, then read its results. A bad item gets its own "
            "error in the results and does not fail the batch. A ZIP may unpack to at most "
            "`BATCH_MAX_UNPACKED_BYTES` (256 MiB by default; `400 batch_too_large`). Each item's "
            "stored prediction keeps what was sent when it is at most 64 KB, otherwise a grey "
            "PNG of it of at most 280 px."
        ),
        request={
            "application/json": BatchJsonRequestSerializer,
            "multipart/form-data": BatchUploadRequestSerializer,
        },
        responses={202: BatchSerializer, **error_responses(400, 401, 403, 413, 429, 503)},
        examples=[
            OpenApiExample(
                "Two items",
                request_only=True,
                media_type="application/json",
                value={
                    "items": [
                        {"image": "data:image/png;base64,iVBORw0...", "ref": "a-1"},
                        {"pixels": [[0] * 28] * 28, "ref": "a-2"},
                    ]
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        payload, input_format, callback_url = _payload_from(request)
        try:
            batch = batch_create(
                created_by=request.user,
                payload=payload,
                input_format=input_format,
                callback_url=callback_url,
            )
        except BatchInputError as exc:
            raise ApiError(status_code=400, code=exc.code, message=exc.message) from None
        except NoActiveModel as exc:
            raise model_unavailable(exc) from None
        except BrokerUnavailable:
            raise broker_unavailable("the batch cannot start") from None
        batch.refresh_from_db()
        url = reverse("api:batch-detail", args=[batch.pk], request=request)
        return Response(
            BatchSerializer(batch).data, status=status.HTTP_202_ACCEPTED, headers={"Location": url}
        )


def _payload_from(request: Request) -> tuple[bytes, str, str]:
    """(payload, format, callback_url) from a JSON body or a file upload."""
    if request.content_type.startswith("multipart/"):
        body = BatchUploadRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        payload = upload.read()
        input_format = _upload_format(upload.name or "", payload)
    else:
        body = BatchJsonRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            payload = json_payload(body.validated_data["items"])
        except BatchInputError as exc:
            raise ApiError(
                status_code=400,
                code=exc.code,
                message=exc.message,
                details={"items": [exc.message]},
            ) from None
        input_format = "json"
    callback_url = body.validated_data.get("callback_url", "")
    if callback_url:
        _check_callback(callback_url)
    return payload, input_format, callback_url


def _upload_format(name: str, payload: bytes) -> str:
    lowered = name.lower()
    for extension in ("npy", "npz", "zip"):
        if lowered.endswith(f".{extension}"):
            return extension
    if payload.startswith(b"\x93NUMPY"):
        return "npy"
    raise ApiError(
        status_code=400,
        code="unsupported_format",
        message="Upload a .npy or .npz array (N x 28 x 28 uint8) or a .zip of PNG files.",
    )


def _check_callback(url: str) -> None:
    if not settings.BATCH_CALLBACKS_ENABLED:
        raise ApiError(
            status_code=400,
            code="callbacks_disabled",
            message="This server does not make callbacks (BATCH_CALLBACKS_ENABLED is off).",
            details={"callback_url": ["Callbacks are disabled on this server."]},
        )
    if not url.lower().startswith(("http://", "https://")):
        raise ApiError(
            status_code=400,
            code="invalid",
            message="callback_url: only http and https URLs are called.",
            details={"callback_url": ["Only http and https URLs are called."]},
        )


@extend_schema_view(
    get=extend_schema(
        summary="A batch's status and progress",
        responses={200: BatchSerializer, **error_responses(401, 403, 404)},
    )
)
class BatchDetailApi(RetrieveAPIView):
    permission_classes = [IsStaffOrToken]
    serializer_class = BatchSerializer

    def get_queryset(self):
        return batches_visible_to(self.request.user)


class ResultsCsvRenderer(BaseRenderer):
    """`?format=csv`: the whole result list as a download. Errors (a dict
    with `code`) come out as a two-line CSV too."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context=None):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        if isinstance(data, dict) and "code" in data:
            message = spreadsheet_safe(str(data.get("message", "")))
            writer.writerows([["code", "message"], [data["code"], message]])
        return buffer.getvalue()


class BatchResultsApi(ListAPIView):
    """One result per item, in item order: JSON pages, or `?format=csv`."""

    permission_classes = [IsStaffOrToken]
    serializer_class = BatchResultSerializer
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, ResultsCsvRenderer]

    def get_queryset(self):
        batch = get_object_or_404(batches_visible_to(self.request.user), pk=self.kwargs["pk"])
        return BatchResult.objects.filter(batch=batch).order_by("index")

    @extend_schema(
        summary="A batch's results, one per item",
        description="JSON pages in item order, or the whole list as CSV with `?format=csv`.",
        parameters=[
            OpenApiParameter("format", str, enum=["json", "csv"], description="csv: a download")
        ],
        responses={
            (200, "application/json"): BatchResultSerializer(many=True),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="A CSV download"),
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response | StreamingHttpResponse:
        if request.accepted_renderer.format != "csv":
            return super().list(request, *args, **kwargs)
        results = self.get_queryset()
        response = StreamingHttpResponse(_csv_rows(results), content_type="text/csv")
        response["Content-Disposition"] = (
            f'attachment; filename="batch-{self.kwargs["pk"]}-results.csv"'
        )
        return response


# A cell starting with one of these is run as a formula by Excel, LibreOffice
# and Google Sheets (OWASP's "CSV injection"); a leading ' makes it text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """`text` as a CSV cell a spreadsheet shows rather than runs."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv_rows(results: QuerySet[BatchResult]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for result in results.iterator(chunk_size=2000):
        probabilities = result.probabilities or [""] * 10
        writer.writerow(
            [result.index, spreadsheet_safe(result.ref),
             "" if result.digit is None else result.digit,
             "" if result.confidence is None else result.confidence, *probabilities,
             result.error_code, spreadsheet_safe(result.error_message),
             result.submission_id or ""]
        )  # fmt: skip
        yield flush()


class BatchCancelApi(APIView):
    """A queued batch is cancelled at once; a running one stops after its
    current chunk of items and keeps the results it has."""

    permission_classes = [IsStaffOrToken]

    @extend_schema(
        summary="Cancel a batch",
        request=None,
        responses={200: BatchSerializer, **error_responses(401, 403, 404, 409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        batch = get_object_or_404(batches_visible_to(request.user, to="change"), pk=pk)
        if batch.status in InferenceBatch.FINISHED:
            raise already_finished("batch", batch.status)
        return Response(BatchSerializer(batch_cancel(batch_id=batch.pk)).data)
