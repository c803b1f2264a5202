from django.urls import path

from training.api import TrainingJobCancelApi, TrainingJobDetailApi, TrainingJobListCreateApi

urlpatterns = [
    path("training-jobs/", TrainingJobListCreateApi.as_view(), name="training-job-list"),
    path("training-jobs/<int:pk>/", TrainingJobDetailApi.as_view(), name="training-job-detail"),
    path(
        "training-jobs/<int:pk>/cancel/",
        TrainingJobCancelApi.as_view(),
        name="training-job-cancel",
    ),
]
