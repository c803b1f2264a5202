from django.urls import path

from training.api.jobs import TrainingJobCancelApi, TrainingJobDetailApi, TrainingJobListCreateApi
from training.api.versions import (
    ModelVersionActivateApi,
    ModelVersionDetailApi,
    ModelVersionListApi,
)

urlpatterns = [
    path("models/", ModelVersionListApi.as_view(), name="model-list"),
    path("models/active/", ModelVersionDetailApi.as_view(), name="model-active"),
    path("models/<int:version>/", ModelVersionDetailApi.as_view(), name="model-detail"),
    path(
        "models/<int:version>/activate/",
        ModelVersionActivateApi.as_view(),
        name="model-activate",
    ),
    path("training-jobs/", TrainingJobListCreateApi.as_view(), name="training-job-list"),
    path("training-jobs/<int:pk>/", TrainingJobDetailApi.as_view(), name="training-job-detail"),
    path(
        "training-jobs/<int:pk>/cancel/",
        TrainingJobCancelApi.as_view(),
        name="training-job-cancel",
    ),
]
