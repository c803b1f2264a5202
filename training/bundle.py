"""The model that ships with the code (training/bundled/), registered as
version 1 on a fresh installation so predictions work from the first start."""

import json
import logging
from pathlib import Path

from django.db import IntegrityError

from training.ml.artifacts import Artifact, artifact_verify
from training.ml.evaluation import Evaluation
from training.ml.files import atomic_write_bytes
from training.ml.pendigits import CanvasScore
from training.model_store import writing_dir
from training.models import ModelVersion
from training.services.registry import version_activate, version_register

logger = logging.getLogger(__name__)

BUNDLE_DIR = Path(__file__).resolve().parent / "bundled"


def bundled_metadata(bundle_dir: Path = BUNDLE_DIR) -> dict:
    return json.loads((bundle_dir / "metadata.json").read_text())


def bundled_model_install(bundle_dir: Path = BUNDLE_DIR) -> ModelVersion | None:
    """Copy the bundled model into the model store and register it as active
    version 1, if the registry is empty. None when there was nothing to do."""
    if ModelVersion.objects.exists():
        return None
    meta = bundled_metadata(bundle_dir)
    artifact = _copy_into_store(bundle_dir / meta["file"], meta["sha256"])
    compiled = _copy_into_store(bundle_dir / meta["compiled_file"], meta["compiled_sha256"])
    metrics = meta["mnist_test"]
    try:
        version = version_register(
            artifact=artifact,
            compiled=compiled,
            architecture=meta["architecture"],
            parameter_count=meta["parameter_count"],
            evaluation=Evaluation(
                accuracy=metrics["accuracy"],
                loss=metrics["loss"],
                per_class_accuracy=metrics["per_class_accuracy"],
                confusion_matrix=metrics["confusion_matrix"],
                count=metrics["count"],
            ),
            canvas=CanvasScore(**meta["canvas"]) if "canvas" in meta else None,
            dataset_fingerprint=meta["dataset_fingerprint"],
            notes=f"Bundled model: {meta['how']}",
            version_number=1,
            auto_activate=False,  # activated below, whatever the policy, with its reason
        )
    except IntegrityError:
        logger.info("another process registered the bundled model first")
        return None
    return version_activate(version=version.version, reason="bundled model on a fresh installation")


def _copy_into_store(source: Path, sha256: str) -> Artifact:
    """The bundled file, verified, under a name of its own in the model store."""
    artifact_verify(source, sha256)
    target = writing_dir() / f"bundled-{sha256[:12]}{source.suffix}"
    if not target.exists():
        atomic_write_bytes(target, source.read_bytes())
    artifact_verify(target, sha256)
    return Artifact(path=target, size=target.stat().st_size, sha256=sha256)
