from django.core.management.base import BaseCommand


class ModelVersionCommand(BaseCommand):
    """A command whose `--version N` names a model version; Django's own
    `--version` (print Django's version) gives way to it."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs):
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)
