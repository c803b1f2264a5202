"""Model versions in the admin: the changelist with test, canvas and live
accuracy, a detail page with pictures, activation and rollback (confirmed,
recorded), the comparison with the active version, and the accuracy history
page. The canvas score's helpers are in canvas.py, the charts in pictures.py."""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from training.admin.canvas import (
    CANVAS_SET,
    HELD_OUT,
    canvas_delta,
    canvas_mismatch,
    canvas_shown,
    per_digit_comparison,
    percent,
)
from training.admin.pictures import (
    accuracy_history_svg,
    live_of,
    newest_canvas_set,
    version_pictures,
)
from training.models import ModelActivation, ModelVersion
from training.selectors import (
    accuracy_history,
    active_version,
    model_versions_with_live_accuracy,
)
from training.services import version_activate, version_rollback
from training.services.registry import RegistryError


class ActivationInline(admin.TabularInline):
    model = ModelActivation
    fk_name = "version"
    fields = ["activated_at", "activated_by", "previous_version", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "Activation history"

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    change_form_template = "admin/training/modelversion/change_form.html"
    change_list_template = "admin/training/modelversion/change_list.html"
    list_display = [
        "version_label", "is_active", "created_at", "architecture", "parameters",
        "test_accuracy_shown", "canvas_accuracy_shown", "live_accuracy_shown",
        "training_job_link", "size",
    ]  # fmt: skip
    list_display_links = ["version_label"]
    list_filter = ["is_active", "architecture", "created_at"]
    search_fields = ["=version", "architecture", "notes"]
    readonly_fields = [field.name for field in ModelVersion._meta.fields if field.name != "notes"]
    inlines = [ActivationInline]
    actions = ["activate_selected", "roll_back"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return model_versions_with_live_accuracy()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions come from training jobs

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # submissions and batches point at versions: keep the record

    # --- changelist columns ---------------------------------------------------

    @admin.display(description="version", ordering="version")
    def version_label(self, version: ModelVersion) -> str:
        return f"v{version.version}"

    @admin.display(description="parameters", ordering="parameter_count")
    def parameters(self, version: ModelVersion) -> str:
        return f"{version.parameter_count:,}"

    @admin.display(description="test accuracy", ordering="test_accuracy")
    def test_accuracy_shown(self, version: ModelVersion) -> str:
        return percent(version.test_accuracy)

    @admin.display(description="canvas accuracy", ordering="canvas_accuracy")
    def canvas_accuracy_shown(self, version: ModelVersion) -> str:
        return percent(version.canvas_accuracy)

    @admin.display(description="live accuracy", ordering="live_right")
    def live_accuracy_shown(self, version: ModelVersion) -> str:
        live = live_of(version)
        if not live.labelled:
            return "— (no feedback yet)"
        return f"{percent(live.accuracy)} of {live.labelled:,}"

    @admin.display(description="training job", ordering="training_job")
    def training_job_link(self, version: ModelVersion) -> str:
        if version.training_job_id is None:
            return "—"
        url = reverse("admin:training_trainingjob_change", args=[version.training_job_id])
        return format_html('<a href="{}">job {}</a>', url, version.training_job_id)

    @admin.display(description="size", ordering="artifact_size")
    def size(self, version: ModelVersion) -> str:
        return filesizeformat(version.artifact_size)

    # --- activation -------------------------------------------------------------

    @admin.action(description="Activate the selected version…", permissions=["change"])
    def activate_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return None
        url = reverse("admin:training_modelversion_activate", args=[queryset.get().pk])
        return HttpResponseRedirect(url)

    @admin.action(description="Roll back to the previously active version…", permissions=["change"])
    def roll_back(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        """Whatever is selected: rollback concerns the active version."""
        return HttpResponseRedirect(reverse("admin:training_modelversion_rollback"))

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("accuracy/", view(self.accuracy_view), name="training_modelversion_accuracy"),
            path("rollback/", view(self.rollback_view), name="training_modelversion_rollback"),
            path(
                "<int:object_id>/activate/",
                view(self.activate_view),
                name="training_modelversion_activate",
            ),
            path(
                "<int:object_id>/compare/",
                view(self.compare_view),
                name="training_modelversion_compare",
            ),
            *super().get_urls(),
        ]

    def activate_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Asks first (GET), then activates (POST) and records who and why."""
        version = get_object_or_404(ModelVersion, pk=object_id)
        if not self.has_change_permission(request, version):
            raise PermissionDenied
        if request.method == "POST":
            reason = request.POST.get("reason", "").strip()[:200] or "activated in the admin"
            version_activate(version=version.version, activated_by=request.user, reason=reason)
            self.message_user(request, f"v{version.version} is now active.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:training_modelversion_changelist"))
        return self._confirm(request, "Activate", version, active_version())

    def rollback_view(self, request: HttpRequest) -> HttpResponse:
        """Back to the version that was active before the current one."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        last = ModelActivation.objects.select_related("version", "previous_version").first()
        previous = last.previous_version if last else None
        if request.method == "POST":
            try:
                version = version_rollback(
                    activated_by=request.user, reason="rollback in the admin"
                )
            except RegistryError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"Rolled back: v{version.version} is active.")
            return HttpResponseRedirect(reverse("admin:training_modelversion_changelist"))
        if previous is None:
            self.message_user(request, "There is no earlier active version.", messages.WARNING)
            return HttpResponseRedirect(reverse("admin:training_modelversion_changelist"))
        return self._confirm(request, "Roll back to", previous, active_version())

    def _confirm(
        self, request: HttpRequest, verb: str, target: ModelVersion, active: ModelVersion | None
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{verb} v{target.version}?",
            "verb": verb,
            "target": target,
            "active": active,
            "delta": (
                None
                if active is None or active.test_accuracy is None or target.test_accuracy is None
                else (target.test_accuracy - active.test_accuracy) * 100
            ),
            **canvas_delta(target, active),
        }
        return TemplateResponse(request, "admin/training/modelversion/confirm.html", context)

    # --- pictures -----------------------------------------------------------

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        version = self.get_queryset(request).filter(pk=object_id).first()
        extra = {**(extra_context or {}), **(version_pictures(version) if version else {})}
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def compare_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """This version against the active one, digit by digit."""
        version = get_object_or_404(self.get_queryset(request), pk=object_id)
        active = self.get_queryset(request).filter(is_active=True).first()
        rows, svg, canvas_rows, canvas_svg, canvas_note = [], "", [], "", ""
        if active is not None and version.per_class_accuracy and active.per_class_accuracy:
            rows, svg = per_digit_comparison(
                version.per_class_accuracy,
                active.per_class_accuracy,
                title=f"v{version.version} minus v{active.version}, per digit (points)",
            )
        if active is not None:
            canvas_note = canvas_mismatch(version, active)
            if not canvas_note:
                canvas_rows, canvas_svg = per_digit_comparison(
                    version.canvas_per_class_accuracy,
                    active.canvas_per_class_accuracy,
                    title=f"v{version.version} minus v{active.version}, per digit, {CANVAS_SET} "
                    "(points)",
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"v{version.version} compared with the active version",
            "version": version,
            "active": active,
            "rows": rows,
            "svg": svg,
            "canvas_rows": canvas_rows,
            "canvas_svg": canvas_svg,
            "canvas_note": canvas_note,
            "version_test": percent(version.test_accuracy),
            "active_test": percent(active.test_accuracy) if active else "—",
            "version_canvas": percent(version.canvas_accuracy),
            "active_canvas": percent(active.canvas_accuracy) if active else "—",
            "version_live": live_of(version),
            "active_live": live_of(active) if active else None,
        }
        return TemplateResponse(request, "admin/training/modelversion/compare.html", context)

    def accuracy_view(self, request: HttpRequest) -> HttpResponse:
        """The page staff open first: how every version did, over time."""
        history = accuracy_history()
        newest_set = newest_canvas_set(history)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Accuracy history",
            "svg": accuracy_history_svg(history),
            "rows": [
                (
                    p.version,
                    p.created_at,
                    percent(p.test_accuracy),
                    canvas_shown(p.canvas_accuracy, p.canvas_set_sha256, newest_set),
                    percent(p.live.accuracy),
                    p.live.labelled,
                    p.is_active,
                )
                for p in reversed(history.points)
            ],
            "activations": list(reversed(history.activations)),
            "new_feedback_labels": history.new_feedback_labels,
            "retrain_threshold": settings.RETRAIN_ON_FEEDBACK_MIN_LABELS,
            "held_out_writers": HELD_OUT,
        }
        return TemplateResponse(request, "admin/training/modelversion/accuracy.html", context)
