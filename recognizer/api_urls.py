from django.urls import path

from recognizer.api import PredictionFeedbackApi, PredictionListCreateApi

urlpatterns = [
    path("predictions/", PredictionListCreateApi.as_view(), name="prediction-list"),
    path(
        "predictions/<int:pk>/feedback/",
        PredictionFeedbackApi.as_view(),
        name="prediction-feedback",
    ),
]
