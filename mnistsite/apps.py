from django.apps import AppConfig


class MnistsiteConfig(AppConfig):
    """The project package as an app: site-wide management commands, the
    API schema's extensions and the token cache's signals."""

    name = "mnistsite"
    verbose_name = "Site"

    def ready(self) -> None:
        import mnistsite.api.schema  # noqa: F401 - registers the schema extensions
        from mnistsite.api.token_cache import connect_signals

        connect_signals()  # in every process, so any of them can drop an entry
