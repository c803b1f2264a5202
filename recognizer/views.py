from django.conf import settings
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.generic import TemplateView

from mnistsite.clients import client_address
from mnistsite.rate_windows import window_hit
from training.selectors import active_version


@method_decorator(ensure_csrf_cookie, name="dispatch")
class HomeView(TemplateView):
    """The drawing page. It starts a session, so the visitor's predictions are
    theirs to give feedback on, and sets the CSRF cookie the page's script sends."""

    template_name = "recognizer/home.html"

    def get(self, request, *args, **kwargs):
        if request.session.session_key is None and _may_start_a_session(request):
            request.session["visitor"] = True  # saved, and a cookie set, by the middleware
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["active_version"] = active_version()
        return context


def _may_start_a_session(request) -> bool:
    """A session is a database row: one client address starts at most
    THROTTLE_SESSION_RATE of them. Past it the page is still served, without
    a session (its predictions are then not the visitor's to give feedback on)."""
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["sessions"]
    return window_hit("sessions", client_address(request), rate)[0]
