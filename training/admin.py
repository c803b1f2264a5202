from django.contrib import admin

from training.models import ModelVersion, TrainingJob


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["version", "is_active", "architecture", "test_accuracy", "created_at"]
    list_filter = ["is_active"]


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "requested_by", "created_at", "started_at", "finished_at"]
    list_filter = ["status"]
    readonly_fields = ["heartbeat_at", "celery_task_id", "error"]
