from django.core.management.base import BaseCommand, CommandError

from training.ml.artifacts import ArtifactError
from training.services.registry import versions_compile


class Command(BaseCommand):
    help = (
        "Give every model version without a compiled (LiteRT) file one, so it answers single "
        "images fast. Versions registered before compiled files existed need it; nothing to do "
        "otherwise."
    )

    def handle(self, *args, **options) -> None:
        try:
            compiled = versions_compile()
        except ArtifactError as exc:
            raise CommandError(f"A model file is damaged: {exc}") from None
        if not compiled:
            self.stdout.write("Every model version has its compiled file.")
        for version in compiled:
            self.stdout.write(f"Compiled v{version.version}: {version.compiled_path}")
