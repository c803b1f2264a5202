"""Training jobs in the admin: "Retrain" (a form that creates the job through
the same service as the API, under a warning when its data cannot be had), a
job page whose stage, progress, metrics, curves and log update while it runs,
cancel, and the changelist."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from mnistsite.queued_work import BrokerUnavailable
from training import selectors
from training.admin.canvas import percent
from training.admin.forms import RetrainForm
from training.admin.pictures import training_curves
from training.models import TrainingJob
from training.services import job_cancel, job_create

LOG_TAIL_LINES = 40


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    change_form_template = "admin/training/trainingjob/change_form.html"
    list_display = [
        "id", "status", "preset", "trigger", "progress_shown", "duration", "requested_by",
        "resulting_accuracy", "created_at",
    ]  # fmt: skip
    list_filter = ["status", "preset", "trigger"]
    list_select_related = ["requested_by", "model_version"]
    # Progress, metrics and the log are in the live part of the page.
    fields = [
        "id", "status", "stage", "preset", "trigger", "params", "requested_by", "created_at",
        "started_at", "finished_at", "feedback_samples_used", "celery_task_id", "error",
    ]  # fmt: skip
    readonly_fields = fields
    search_fields = ["=id", "error"]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # the job is the history of a model version

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("requested_by", "model_version")

    @admin.display(description="progress")
    def progress_shown(self, job: TrainingJob) -> str:
        return format_html(
            '<progress value="{}" max="100"></progress> {}', round(job.progress * 100),
            f"{job.progress:.0%}",
        )  # fmt: skip

    @admin.display(description="duration")
    def duration(self, job: TrainingJob) -> str:
        if job.started_at is None:
            return "—"
        end = job.finished_at or job.heartbeat_at or job.started_at
        seconds = int((end - job.started_at).total_seconds())
        return f"{seconds // 60} min {seconds % 60:02d} s"

    @admin.display(description="result")
    def resulting_accuracy(self, job: TrainingJob) -> str:
        version = getattr(job, "model_version", None)
        if version is None:
            return "—"
        url = reverse("admin:training_modelversion_change", args=[version.pk])
        return format_html(
            '<a href="{}">v{}</a> {}', url, version.version, percent(version.test_accuracy)
        )

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("<int:object_id>/live/", view(self.live_view), name="training_trainingjob_live"),
            path(
                "<int:object_id>/cancel/",
                view(self.cancel_view),
                name="training_trainingjob_cancel",
            ),
            *super().get_urls(),
        ]

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        """Retrain: the form, then the job through job_create (as the API does)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = RetrainForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                job = job_create(requested_by=request.user, **form.job_arguments())
            except BrokerUnavailable:
                self.message_user(
                    request,
                    "The task queue is not answering, so training cannot start; the job was "
                    "marked failed. Try again shortly.",
                    messages.ERROR,
                )
            else:
                self.message_user(request, f"Training job {job.pk} is queued.", messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:training_trainingjob_change", args=[job.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Retrain",
            "form": form,
            # Probed (cached a minute) so that staff learn, before starting a
            # job, that it would fail or would train without the pen-drawn digits.
            "data_sources": selectors.data_source_warnings(),
        }
        return TemplateResponse(request, "admin/training/trainingjob/retrain.html", context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        job = get_object_or_404(self.get_queryset(request), pk=object_id)
        extra = {
            **(extra_context or {}),
            **live_context(job),
            # Nothing on the page is edited: no save buttons.
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def live_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The part of the job page that changes while it runs; the page's
        script fetches it every two seconds until the job has ended."""
        job = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        # admin_view() marks it never to be cached.
        return TemplateResponse(request, "admin/training/trainingjob/live.html", live_context(job))

    def cancel_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        job = get_object_or_404(self.get_queryset(request), pk=object_id)
        if request.method != "POST" or not self.has_change_permission(request, job):
            raise PermissionDenied
        if job.status in TrainingJob.FINISHED:
            self.message_user(request, f"The job has already ended ({job.status}).", messages.INFO)
        else:
            job = job_cancel(job_id=job.pk)
            self.message_user(
                request,
                "Cancelled."
                if job.status == "cancelled"
                else "Asked to stop: it stops within "
                "a fraction of an epoch and registers no model.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:training_trainingjob_change", args=[job.pk]))


def live_context(job: TrainingJob) -> dict:
    version = getattr(job, "model_version", None)
    eta = job.eta_seconds
    context = {
        "job": job,
        "finished": job.status in TrainingJob.FINISHED,
        "percent": round(job.progress * 100, 1),
        "eta": None if eta is None else f"{int(eta) // 60} min {int(eta) % 60:02d} s",
        "metrics": job.metrics,
        "log_tail": "\n".join(job.log.splitlines()[-LOG_TAIL_LINES:]),
        "version": version,
        "version_test": percent(version.test_accuracy) if version else "",
    }
    if job.metrics:
        context.update(training_curves(job.metrics, title=f"Job {job.pk}"))
    return context
