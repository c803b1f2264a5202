"""Inference batches and their results in the admin (the upload itself is
never loaded)."""

from datetime import timedelta

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from recognizer.admin.common import EMPTY, _integer, _percent, _search_ids
from recognizer.models import BatchResult, InferenceBatch
from recognizer.selectors import batches_recent


class BatchFilter(admin.SimpleListFilter):
    """The newest batches, and the one asked for (the batch page links here)."""

    title = "batch"
    parameter_name = "batch"

    def lookups(self, request, model_admin):
        choices = [(str(batch.pk), str(batch)) for batch in batches_recent(limit=20)]
        if self.value() and self.value() not in {value for value, _ in choices}:
            choices.append((self.value(), f"Batch {self.value()}"))
        return choices

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(batch_id=_integer(self.value()))


class OutcomeFilter(admin.SimpleListFilter):
    """Not a filter on error_code's values: that is a DISTINCT over every result."""

    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [("digit", "A digit"), ("error", "An error")]

    def queryset(self, request, queryset):
        if self.value() == "digit":
            return queryset.filter(error_code="")
        if self.value() == "error":
            return queryset.exclude(error_code="")
        return queryset


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


@admin.register(InferenceBatch)
class InferenceBatchAdmin(admin.ModelAdmin):
    list_display = [
        "id", "status", "progress_bar", "failed_items", "version", "created_by", "created_at",
        "duration", "speed", "results",
    ]  # fmt: skip
    list_filter = ["status", "model_version"]
    list_select_related = ["model_version", "created_by"]
    show_full_result_count = False
    search_fields = ["id"]
    search_help_text = "Batch id."
    fields = [
        "status", "progress_bar", "failed_items", "version", "input_format", "created_by",
        "created_at", "started_at", "finished_at", "heartbeat_at", "duration", "speed",
        "attempts", "cancel_requested", "error", "callback_url", "callback_status",
        "celery_task_id", "results",
    ]  # fmt: skip
    readonly_fields = fields

    class Media:
        css = {"all": ["admin-extras/recognizer.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[InferenceBatch]:
        # The upload is kept until the batch is done and may be megabytes.
        return super().get_queryset(request).defer("payload")

    def get_search_results(self, request, queryset, search_term):
        return _search_ids(queryset, search_term), False

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # could delete running batches
        return actions

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # batches come from the API

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # A worker may still be writing results of an unfinished batch.
        finished = obj is None or obj.status in InferenceBatch.FINISHED
        return finished and super().has_delete_permission(request, obj)

    @admin.display(description="progress")
    def progress_bar(self, obj: InferenceBatch) -> str:
        return format_html(
            '<span class="batch-progress"><progress value="{}" max="{}">{}</progress> {}/{}</span>',
            obj.processed, obj.total, _percent(obj.progress), obj.processed, obj.total,
        )  # fmt: skip

    @admin.display(description="model", ordering="model_version__version")
    def version(self, obj: InferenceBatch) -> str:
        return f"v{obj.model_version.version}"

    @admin.display(description="duration")
    def duration(self, obj: InferenceBatch) -> str:
        if obj.started_at is None:
            return EMPTY
        end = obj.finished_at or timezone.now()
        return _duration(max(timedelta(0), end - obj.started_at).total_seconds())

    @admin.display(description="images/s", ordering="images_per_second")
    def speed(self, obj: InferenceBatch) -> str:
        return EMPTY if obj.images_per_second is None else f"{obj.images_per_second:,.1f}"

    @admin.display(description="results")
    def results(self, obj: InferenceBatch) -> str:
        api = reverse("api:batch-results", args=[obj.pk])
        listing = reverse(
            "admin:recognizer_batchresult_changelist", current_app=self.admin_site.name
        )
        return format_html(
            '<a href="{}?batch={}">list</a> · <a href="{}">JSON</a> · '
            '<a href="{}?format=csv">CSV</a>',
            listing, obj.pk, api, api,
        )  # fmt: skip


@admin.register(BatchResult)
class BatchResultAdmin(admin.ModelAdmin):
    list_display = [
        "id", "batch_link", "index", "ref", "digit", "confidence_percent", "error_code",
        "submission_link",
    ]  # fmt: skip
    list_filter = [BatchFilter, OutcomeFilter]
    list_per_page = 200
    show_full_result_count = False
    ordering = ["-batch_id", "index"]
    search_fields = ["ref"]
    fields = [
        "batch_link", "index", "ref", "digit", "confidence_percent", "probabilities",
        "error_code", "error_message", "submission_link",
    ]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # results go with their batch

    # Links by id, never str(): that would load the batch (payload) or the
    # submission (upload) of every row.
    @admin.display(description="batch", ordering="batch_id")
    def batch_link(self, obj: BatchResult) -> str:
        url = reverse("admin:recognizer_inferencebatch_change", args=[obj.batch_id])
        return format_html('<a href="{}">Batch {}</a>', url, obj.batch_id)

    @admin.display(description="submission")
    def submission_link(self, obj: BatchResult) -> str:
        if obj.submission_id is None:
            return EMPTY
        url = reverse("admin:recognizer_submission_change", args=[obj.submission_id])
        return format_html('<a href="{}">Submission {}</a>', url, obj.submission_id)

    @admin.display(description="confidence", ordering="confidence")
    def confidence_percent(self, obj: BatchResult) -> str:
        return _percent(obj.confidence)
