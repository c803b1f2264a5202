"""/api/v1/: the versioned REST API, gathered from the apps that serve it."""

from django.urls import include, path

app_name = "api"

urlpatterns = [
    path("", include("recognizer.api.urls")),
]
