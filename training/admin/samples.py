from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from training.models import LabelledSample


@admin.register(LabelledSample)
class LabelledSampleAdmin(admin.ModelAdmin):
    list_display = ["id", "label", "predicted_digit", "model_version", "source", "excluded",
                    "created_at"]  # fmt: skip
    list_filter = ["source", "label", "excluded", "model_version"]
    list_select_related = ["model_version"]
    exclude = ["image"]
    readonly_fields = ["source", "model_version", "predicted_digit", "created_at"]
    actions = ["exclude_from_training", "include_in_training"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # samples come from feedback and relabelling

    @admin.action(description="Leave the selected samples out of training", permissions=["change"])
    def exclude_from_training(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.update(excluded=True)
        self.message_user(request, f"{count} samples left out of training.", messages.SUCCESS)

    @admin.action(description="Use the selected samples in training", permissions=["change"])
    def include_in_training(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.update(excluded=False)
        self.message_user(request, f"{count} samples used in training again.", messages.SUCCESS)
