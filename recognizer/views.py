from django.views.generic import TemplateView

from training.selectors import active_version


class HomeView(TemplateView):
    template_name = "recognizer/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["active_version"] = active_version()
        return context
