from django.apps import AppConfig


class MnistsiteConfig(AppConfig):
    """The project package as an app: site-wide management commands, and the
    API schema's extensions."""

    name = "mnistsite"
    verbose_name = "Site"

    def ready(self) -> None:
        import mnistsite.api.schema  # noqa: F401 - registers the schema extensions
