from django.contrib import admin
from django.urls import include, path

from mnistsite.health import HealthzView

urlpatterns = [
    path("healthz", HealthzView.as_view(), name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("mnistsite.api.urls")),
    path("", include("recognizer.urls")),
]
