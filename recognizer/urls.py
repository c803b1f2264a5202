from django.urls import path

from recognizer.views import HomeView

app_name = "recognizer"

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
]
