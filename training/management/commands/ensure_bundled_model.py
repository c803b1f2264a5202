from django.core.management.base import BaseCommand, CommandError

from training.bundle import bundled_model_install
from training.ml.artifacts import ArtifactError


class Command(BaseCommand):
    help = "On a fresh installation (no model versions), register the bundled model as v1."

    def handle(self, *args, **options) -> None:
        try:
            version = bundled_model_install()
        except ArtifactError as exc:
            raise CommandError(f"The bundled model is damaged: {exc}") from None
        if version is None:
            self.stdout.write("Model registry already has versions; bundled model not needed.")
        else:
            self.stdout.write(
                f"Registered the bundled model as v{version.version} "
                f"(MNIST test accuracy {version.test_accuracy:.2%}); it is active."
            )
