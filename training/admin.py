from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from training.models import LabelledSample, ModelActivation, ModelVersion, TrainingJob
from training.services import version_activate


class ActivationInline(admin.TabularInline):
    model = ModelActivation
    fk_name = "version"
    fields = ["activated_at", "activated_by", "previous_version", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = [
        "version", "is_active", "architecture", "parameter_count", "test_accuracy",
        "training_job", "artifact_size", "created_at",
    ]  # fmt: skip
    list_filter = ["is_active", "architecture"]
    search_fields = ["version", "notes"]
    readonly_fields = [
        field.name for field in ModelVersion._meta.fields if field.name not in ("notes",)
    ]
    inlines = [ActivationInline]
    actions = ["activate_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions come from training jobs

    @admin.action(description="Activate the selected version", permissions=["change"])
    def activate_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return
        version = version_activate(
            version=queryset.get().version, activated_by=request.user, reason="admin"
        )
        self.message_user(request, f"v{version.version} is now active.", messages.SUCCESS)


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    list_display = [
        "id", "status", "preset", "epoch", "epochs", "requested_by", "created_at", "finished_at",
    ]  # fmt: skip
    list_filter = ["status", "preset"]
    readonly_fields = [field.name for field in TrainingJob._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # jobs are created through the service (train command, API)


@admin.register(LabelledSample)
class LabelledSampleAdmin(admin.ModelAdmin):
    list_display = ["id", "label", "source", "excluded", "created_at"]
    list_filter = ["source", "label", "excluded"]
    exclude = ["image"]
