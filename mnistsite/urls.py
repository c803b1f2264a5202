from django.contrib import admin
from django.urls import include, path

from mnistsite.health import HealthzView

# JSON under /api/; a database outage is a 503, not a 500 (see error_pages).
handler400 = "mnistsite.error_pages.bad_request"
handler404 = "mnistsite.error_pages.page_not_found"
handler500 = "mnistsite.error_pages.server_error"

urlpatterns = [
    path("healthz", HealthzView.as_view(), name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("mnistsite.api.urls")),
    path("", include("recognizer.urls")),
]
