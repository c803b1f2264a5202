"""`manage.py score_canvas`: give model versions their canvas score."""

from django.core.management.base import CommandError, CommandParser

from training.job_data import pendigits_from_sources
from training.management.base import ModelVersionCommand
from training.ml.artifacts import ArtifactError
from training.ml.pendigits import PendigitsUnavailable
from training.models import ModelVersion
from training.services.registry import version_score_canvas


class Command(ModelVersionCommand):
    help = (
        "Score model versions on the held-out writers' pen-drawn digits (the canvas score): "
        "those without a score or scored on another canvas set, or the one named by --version."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--version", type=int, help="score this version (again)")

    def handle(self, *args, **options) -> None:
        try:
            canvas = pendigits_from_sources(log=lambda line: None).canvas_set
        except PendigitsUnavailable as exc:
            raise CommandError(str(exc)) from None
        versions = ModelVersion.objects.exclude(canvas_set_sha256=canvas.sha256)
        if options["version"] is not None:
            versions = ModelVersion.objects.filter(version=options["version"])
            if not versions:
                raise CommandError(f"There is no model version {options['version']}.")
        if not versions:
            self.stdout.write("Every model version has a canvas score on this canvas set.")
        for version in versions.order_by("version"):
            try:
                version_score_canvas(version=version, canvas=canvas)
            except ArtifactError as exc:
                self.stderr.write(f"v{version.version}: not scored, its model file: {exc}")
                continue
            self.stdout.write(f"v{version.version}: canvas accuracy {version.canvas_accuracy:.2%}")
