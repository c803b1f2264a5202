from django.apps import AppConfig


class MnistsiteConfig(AppConfig):
    """The project package as an app: it holds site-wide management commands."""

    name = "mnistsite"
    verbose_name = "Site"
