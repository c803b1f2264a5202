"""`manage.py evaluate`: a model version's numbers on the MNIST test set;
with --usps, on the USPS test set made MNIST-style as a drawing is;
with --pendigits, on the held-out writers' pen-drawn digits drawn as the
drawing page draws them (the canvas score training gives every version)."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from training.management.base import ModelVersionCommand
from training.ml.artifacts import ArtifactError
from training.ml.datasets import MnistNotCached, load_mnist
from training.ml.evaluation import Evaluation, evaluate_model
from training.ml.pendigits import (
    HELD_OUT_WRITERS,
    CanvasSet,
    PendigitsUnavailable,
    read_pendigits,
)
from training.ml.usps import usps_as_mnist
from training.model_store import model_load
from training.models import ModelVersion
from training.reports import confusion_table, per_class_table
from training.selectors import active_version


class Command(ModelVersionCommand):
    help = "Accuracy, per-class accuracy and confusion matrix of a model version."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--version", type=int, help="model version (default: the active one)")
        parser.add_argument(
            "--usps", type=Path, metavar="PATH", help="also evaluate on this USPS zip.test.gz"
        )
        parser.add_argument(
            "--pendigits",
            type=Path,
            metavar="PATH",
            help="also evaluate on the held-out writers' pen-drawn digits, drawn as the "
            "drawing page draws them, from this pendigits-orig.tra (as is, .gz, .Z or UCI's "
            "zip) or a folder holding it",
        )

    def handle(self, *args, **options) -> None:
        version = self._version(options["version"])
        # Read (and verify) before the slow part, so a bad file fails at once.
        pendigits_path: Path | None = options["pendigits"]
        canvas = self._canvas_set(pendigits_path) if pendigits_path is not None else None
        try:
            model = model_load(version.artifact_path, version.artifact_sha256)
        except ArtifactError as exc:
            raise CommandError(str(exc)) from None
        try:
            mnist = load_mnist(settings.MNIST_CACHE_DIR)
        except MnistNotCached as exc:
            raise CommandError(str(exc)) from None
        self._report(f"Model v{version.version} on the MNIST test set",
                     evaluate_model(model, mnist.x_test / 255.0, mnist.y_test))  # fmt: skip
        if options["usps"] is not None:
            self._usps(version, model, options["usps"])
        if pendigits_path is not None:
            self._pendigits(version, model, pendigits_path, canvas)

    def _usps(self, version: ModelVersion, model: Any, path: Path) -> None:
        if not path.is_file():
            self.stdout.write(f"\nUSPS skipped: no file at {path}.")
            return
        images, labels = usps_as_mnist(path)
        self._report(
            f"Model v{version.version} on the USPS test set (MNIST-style preprocessing)",
            evaluate_model(model, images, labels),
        )

    def _pendigits(
        self, version: ModelVersion, model: Any, path: Path, canvas: CanvasSet | None
    ) -> None:
        if canvas is None:
            self.stdout.write(f"\nPen-drawn digits skipped: no file at {path}.")
            return
        writers = ", ".join(str(writer) for writer in sorted(HELD_OUT_WRITERS))
        self._report(
            f"Model v{version.version}, canvas accuracy: the pen-drawn digits of held-out "
            f"writers {writers}, drawn as the drawing page draws them",
            evaluate_model(model, canvas.images / 255.0, canvas.labels),
        )

    def _version(self, number: int | None) -> ModelVersion:
        if number is None:
            version = active_version()
            if version is None:
                raise CommandError("No model version is active; name one with --version.")
            return version
        try:
            return ModelVersion.objects.get(version=number)
        except ModelVersion.DoesNotExist:
            raise CommandError(f"There is no model version {number}.") from None

    def _canvas_set(self, path: Path) -> CanvasSet | None:
        """The held-out writers' drawings; None when nothing is at `path`."""
        if not path.exists():
            return None
        try:
            return read_pendigits(path).canvas_set
        except PendigitsUnavailable as exc:
            raise CommandError(str(exc)) from None

    def _report(self, title: str, evaluation: Evaluation) -> None:
        self.stdout.write(
            f"\n{title}: {evaluation.count} images\n"
            f"accuracy {evaluation.accuracy:.4%}  loss {evaluation.loss:.4f}\n"
        )
        self.stdout.write(per_class_table(evaluation.per_class_accuracy))
        self.stdout.write(confusion_table(evaluation.confusion_matrix))
