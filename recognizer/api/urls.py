from django.urls import path

from recognizer.api.batches import (
    BatchCancelApi,
    BatchDetailApi,
    BatchListCreateApi,
    BatchResultsApi,
)
from recognizer.api.predictions import PredictionFeedbackApi, PredictionListCreateApi

urlpatterns = [
    path("predictions/", PredictionListCreateApi.as_view(), name="prediction-list"),
    path(
        "predictions/<int:pk>/feedback/",
        PredictionFeedbackApi.as_view(),
        name="prediction-feedback",
    ),
    path("batches/", BatchListCreateApi.as_view(), name="batch-list"),
    path("batches/<int:pk>/", BatchDetailApi.as_view(), name="batch-detail"),
    path("batches/<int:pk>/results/", BatchResultsApi.as_view(), name="batch-results"),
    path("batches/<int:pk>/cancel/", BatchCancelApi.as_view(), name="batch-cancel"),
]
