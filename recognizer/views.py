from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.generic import TemplateView

from training.selectors import active_version


@method_decorator(ensure_csrf_cookie, name="dispatch")
class HomeView(TemplateView):
    """The drawing page. It starts a session, so the visitor's predictions are
    theirs to give feedback on, and sets the CSRF cookie the page's script sends."""

    template_name = "recognizer/home.html"

    def get(self, request, *args, **kwargs):
        if request.session.session_key is None:
            request.session["visitor"] = True  # saved, and a cookie set, by the middleware
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["active_version"] = active_version()
        return context
