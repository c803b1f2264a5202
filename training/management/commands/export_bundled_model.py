"""Developer tool: make a registered version the model that ships with the code."""

import json
import shutil

from django.core.management.base import CommandError, CommandParser

from training.bundle import BUNDLE_DIR
from training.management.base import ModelVersionCommand
from training.ml.artifacts import artifact_verify
from training.model_store import model_local_path
from training.models import ModelVersion

MODEL_FILE = "model.keras"
COMPILED_FILE = "model.tflite"


class Command(ModelVersionCommand):
    help = "Copy a model version's files (Keras and compiled) and metrics into training/bundled/."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--version", type=int, required=True)
        parser.add_argument("--how", required=True, help="how it was produced, for the notes")

    def handle(self, *args, **options) -> None:
        try:
            version = ModelVersion.objects.select_related("training_job").get(
                version=options["version"]
            )
        except ModelVersion.DoesNotExist:
            raise CommandError(f"There is no model version {options['version']}.") from None
        if not version.compiled_path:
            raise CommandError(f"v{version.version} has no compiled model to ship.")
        BUNDLE_DIR.mkdir(exist_ok=True)
        for path, sha256, name in (
            (version.artifact_path, version.artifact_sha256, MODEL_FILE),
            (version.compiled_path, version.compiled_sha256, COMPILED_FILE),
        ):
            source = model_local_path(path, sha256)
            artifact_verify(source, sha256)
            shutil.copyfile(source, BUNDLE_DIR / name)
        job = version.training_job
        metadata = {
            "file": MODEL_FILE,
            "sha256": version.artifact_sha256,
            "compiled_file": COMPILED_FILE,
            "compiled_sha256": version.compiled_sha256,
            "architecture": version.architecture,
            "parameter_count": version.parameter_count,
            "how": options["how"],
            "params": job.params if job else {},
            "training_seconds": (
                round((job.finished_at - job.started_at).total_seconds(), 1)
                if job and job.finished_at and job.started_at
                else None
            ),
            "epochs": job.metrics if job else [],
            "dataset_fingerprint": version.dataset_fingerprint,
            "mnist_test": {
                "accuracy": version.test_accuracy,
                "loss": version.test_loss,
                "per_class_accuracy": version.per_class_accuracy,
                "confusion_matrix": version.confusion_matrix,
                "count": sum(map(sum, version.confusion_matrix)),
            },
        }
        if version.canvas_accuracy is not None:
            # As training/ml/pendigits.py's CanvasScore: the bundle registers with it.
            metadata["canvas"] = {
                "accuracy": version.canvas_accuracy,
                "per_class_accuracy": version.canvas_per_class_accuracy,
                "confusion_matrix": version.canvas_confusion_matrix,
                "set_sha256": version.canvas_set_sha256,
            }
        (BUNDLE_DIR / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
        self.stdout.write(f"Exported v{version.version} to {BUNDLE_DIR}.")
