"""Training jobs over the API, for users with the admin's permissions on
them (view, add, change): start one from a preset or explicit parameters,
follow its progress and per-epoch metrics, cancel it."""

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from mnistsite.api.access import ModelPermission, requires
from mnistsite.api.errors import ApiError, already_finished, broker_unavailable
from mnistsite.api.schema import error_responses
from mnistsite.queued_work import BrokerUnavailable
from training.models import TrainingJob
from training.params import ParamsError
from training.selectors import training_jobs_filtered
from training.serializers import (
    TrainingJobFilterSerializer,
    TrainingJobRequestSerializer,
    TrainingJobSerializer,
)
from training.services import job_cancel, job_create

VIEW_JOBS = "training.view_trainingjob"


class TrainingJobListCreateApi(ListAPIView):
    serializer_class = TrainingJobSerializer

    def get_permissions(self) -> list[ModelPermission]:
        perm = "training.add_trainingjob" if self.request.method == "POST" else VIEW_JOBS
        return [requires(perm)()]

    @extend_schema(
        summary="Training jobs (needs training.view_trainingjob)",
        parameters=[TrainingJobFilterSerializer],
        responses={200: TrainingJobSerializer(many=True), **error_responses(400, 401, 403)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = TrainingJobFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return training_jobs_filtered(**filters.validated_data)

    @extend_schema(
        summary="Start a training job (needs training.add_trainingjob)",
        description="A preset (`quick`, `standard`, `best`) and/or explicit parameters.",
        request=TrainingJobRequestSerializer,
        responses={202: TrainingJobSerializer, **error_responses(400, 401, 403, 503)},
        examples=[OpenApiExample("A preset", request_only=True, value={"preset": "quick"})],
    )
    def post(self, request: Request) -> Response:
        body = TrainingJobRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            job = job_create(requested_by=request.user, **body.validated_data)
        except ParamsError as exc:
            details = {name: [message] for name, message in exc.errors.items()}
            raise ApiError(
                status_code=400, code="invalid", message=str(exc), details=details
            ) from None
        except BrokerUnavailable:
            raise broker_unavailable("training cannot start (the job was marked failed)") from None
        job.refresh_from_db()
        url = reverse("api:training-job-detail", args=[job.pk], request=request)
        return Response(
            TrainingJobSerializer(job).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": url},
        )


@extend_schema_view(
    get=extend_schema(
        summary="A training job's progress and per-epoch metrics (needs training.view_trainingjob)",
        responses={200: TrainingJobSerializer, **error_responses(401, 403, 404)},
    )
)
class TrainingJobDetailApi(RetrieveAPIView):
    permission_classes = [requires(VIEW_JOBS)]
    serializer_class = TrainingJobSerializer

    def get_queryset(self):
        return training_jobs_filtered()


class TrainingJobCancelApi(APIView):
    """A queued job is cancelled at once; a running one stops between two
    batches of its current epoch and registers no model."""

    permission_classes = [requires("training.change_trainingjob")]

    @extend_schema(
        summary="Cancel a training job (needs training.change_trainingjob)",
        request=None,
        responses={200: TrainingJobSerializer, **error_responses(401, 403, 404, 409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        job = training_jobs_filtered().filter(pk=pk).first()
        if job is None:
            raise ApiError(status_code=404, code="not_found", message="No such training job.")
        if job.status in TrainingJob.FINISHED:
            raise already_finished("job", job.status)
        return Response(TrainingJobSerializer(job_cancel(job_id=job.pk)).data)
