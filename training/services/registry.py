"""The model registry: register trained versions, choose which one serves."""

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Max

from training.ml.artifacts import Artifact, ArtifactError
from training.ml.evaluation import Evaluation
from training.ml.pendigits import CanvasScore, CanvasSet, canvas_score
from training.model_store import model_load, model_publish, writing_dir
from training.models import ModelActivation, ModelVersion, TrainingJob

logger = logging.getLogger(__name__)


class RegistryError(Exception):
    pass


def version_register(
    *,
    artifact: Artifact,
    architecture: str,
    parameter_count: int,
    evaluation: Evaluation,
    dataset_fingerprint: dict[str, Any],
    training_job: TrainingJob | None = None,
    notes: str = "",
    version_number: int | None = None,
    auto_activate: bool = True,
    compiled: Artifact | None = None,
    canvas: CanvasScore | None = None,
) -> ModelVersion:
    """Add a version with the next number (or exactly `version_number`, which
    raises IntegrityError when taken); then, under the `auto` activation
    policy, make it active if `auto_activation_verdict` says so.
    `compiled`: the same model converted for single images (compiled_save).
    `canvas`: its score on the held-out writers' drawings, if it has one."""
    # Uploaded first: a transaction is never held open across the network,
    # and a retry below does not publish again.
    artifact_key = model_publish(artifact)
    compiled_key = model_publish(compiled) if compiled else ""
    attempts = 1 if version_number else 5
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                number = version_number or (
                    (ModelVersion.objects.aggregate(top=Max("version"))["top"] or 0) + 1
                )
                version = ModelVersion.objects.create(
                    version=number,
                    architecture=architecture,
                    parameter_count=parameter_count,
                    artifact_path=artifact_key,
                    artifact_size=artifact.size,
                    artifact_sha256=artifact.sha256,
                    compiled_path=compiled_key,
                    compiled_sha256=compiled.sha256 if compiled else "",
                    training_job=training_job,
                    dataset_fingerprint=dataset_fingerprint,
                    test_accuracy=evaluation.accuracy,
                    test_loss=evaluation.loss,
                    per_class_accuracy=evaluation.per_class_accuracy,
                    confusion_matrix=evaluation.confusion_matrix,
                    **_canvas_fields(canvas),
                    notes=notes,
                )
            break
        except IntegrityError:
            # Another registration took the same number; take the next one.
            if attempt + 1 == attempts:
                raise
            continue
    if auto_activate:
        version_auto_activate(version)
    return version


def version_auto_activate(version: ModelVersion, *, canvas: CanvasSet | None = None) -> str:
    """Under the `auto` policy, activate `version` if auto_activation_verdict
    says so. Returns the verdict ("" under the `manual` policy).

    `canvas`: the set `version` was just scored on. An active version scored
    on another set, or on none (made before there were canvas scores, or on
    a machine that draws a pixel differently), is scored on this one first,
    so that the two compare."""
    if settings.TRAINING_ACTIVATION_POLICY != "auto":
        return ""
    active = ModelVersion.objects.filter(is_active=True).first()
    rescored = ""
    if active is not None and canvas is not None and active.canvas_set_sha256 != canvas.sha256:
        rescored = _rescored(active, canvas)
    activate, verdict = auto_activation_verdict(version, active)
    verdict = rescored + verdict
    logger.info("v%s: %s", version.version, verdict)
    if activate:
        version_activate(version=version.version, reason=verdict)
        version.refresh_from_db()
    return verdict


def version_score_canvas(*, version: ModelVersion, canvas: CanvasSet) -> ModelVersion:
    """Score `version` on `canvas` and store the score in place of any other."""
    model = model_load(version.artifact_path, version.artifact_sha256)
    ModelVersion.objects.filter(pk=version.pk).update(**_canvas_fields(canvas_score(model, canvas)))
    version.refresh_from_db()
    return version


def _rescored(version: ModelVersion, canvas: CanvasSet) -> str:
    """Score `version` (in place) on `canvas`; what happened, for the verdict."""
    before = "none" if version.canvas_accuracy is None else f"{version.canvas_accuracy:.2%}"
    try:
        version_score_canvas(version=version, canvas=canvas)
    except ArtifactError:
        logger.exception("v%s could not be scored on the canvas set", version.version)
        return f"v{version.version} could not be scored on this canvas set (see the log); "
    return (
        f"v{version.version} scored on this canvas set first: {version.canvas_accuracy:.2%} "
        f"(on its own: {before}); "
    )


def _canvas_fields(canvas: CanvasScore | None) -> dict[str, Any]:
    if canvas is None:
        return {}
    return {
        "canvas_accuracy": canvas.accuracy,
        "canvas_per_class_accuracy": canvas.per_class_accuracy,
        "canvas_confusion_matrix": canvas.confusion_matrix,
        "canvas_set_sha256": canvas.set_sha256,
    }


def auto_activation_verdict(new: ModelVersion, active: ModelVersion | None) -> tuple[bool, str]:
    """Whether the `auto` policy makes `new` the active version, and why.

    It must beat the active version's MNIST test accuracy, and must not read
    the held-out writers' drawings worse than it by more than
    TRAINING_ACTIVATION_CANVAS_MARGIN: a better MNIST score bought with worse
    reading of what people draw is no improvement. A version without a canvas
    score is not activated over one that has one (nobody knows how it reads
    drawings), nor one scored on another canvas set (the scores do not compare).
    """
    if active is None:
        return True, "auto: first model"
    new_test, active_test = new.test_accuracy or 0.0, active.test_accuracy or 0.0
    mnist = f"test accuracy {new_test:.2%} against v{active.version}'s {active_test:.2%}"
    if new_test <= active_test:
        return False, f"auto: not activated, {mnist}"
    if active.canvas_accuracy is None:
        return True, f"auto: {mnist} (v{active.version} has no canvas score)"
    if new.canvas_accuracy is None:
        return False, (
            f"auto: not activated, no canvas score while v{active.version} has "
            f"{active.canvas_accuracy:.2%}; activate it by hand if wanted"
        )
    if new.canvas_set_sha256 != active.canvas_set_sha256:
        return False, (
            f"auto: not activated, its canvas score is on another canvas set than "
            f"v{active.version}'s; activate it by hand if wanted"
        )
    margin = settings.TRAINING_ACTIVATION_CANVAS_MARGIN
    canvas = f"canvas accuracy {new.canvas_accuracy:.2%} against {active.canvas_accuracy:.2%}"
    if new.canvas_accuracy < active.canvas_accuracy - margin:
        return False, f"auto: not activated, {canvas} (more than {margin:.2%} worse)"
    return True, f"auto: {mnist}, {canvas}"


@transaction.atomic
def version_activate(
    *, version: int, activated_by: AbstractBaseUser | None = None, reason: str = ""
) -> ModelVersion:
    """Make `version` the one active version and record who did it.

    Rows are locked so two activations run one after the other; the partial
    unique constraint guarantees at most one active version whatever happens.
    """
    target = ModelVersion.objects.select_for_update().get(version=version)
    previous = ModelVersion.objects.select_for_update().filter(is_active=True).first()
    if previous is not None and previous.pk == target.pk:
        return target
    ModelVersion.objects.filter(is_active=True).update(is_active=False)
    ModelVersion.objects.filter(pk=target.pk).update(is_active=True)
    ModelActivation.objects.create(
        version=target,
        previous_version=previous,
        activated_by=activated_by,
        reason=reason[:200],
    )
    logger.info("model v%s activated (%s)", version, reason or "by hand")
    target.refresh_from_db()
    return target


def version_rollback(
    *, activated_by: AbstractBaseUser | None = None, reason: str = "rollback"
) -> ModelVersion:
    """Activate the version that was active before the current one."""
    last = ModelActivation.objects.select_related("previous_version").first()
    if last is None or last.previous_version is None:
        raise RegistryError("there is no earlier active version to roll back to")
    return version_activate(
        version=last.previous_version.version, activated_by=activated_by, reason=reason
    )


def versions_compile() -> list[ModelVersion]:
    """Give every version registered without a compiled file one (versions
    from before there were compiled files, or whose conversion failed then).
    Web processes pick the new file up at their next look-up. Returns the
    versions that got one; a version another process compiled meanwhile is
    left as that process made it."""
    from training.ml.artifacts import compiled_save

    compiled_now = []
    for version in ModelVersion.objects.filter(compiled_path="").exclude(artifact_path=""):
        model = model_load(version.artifact_path, version.artifact_sha256)
        compiled = compiled_save(model, writing_dir(), stem=f"v{version.version}")
        key = model_publish(compiled)
        attached = ModelVersion.objects.filter(pk=version.pk, compiled_path="").update(
            compiled_path=key, compiled_sha256=compiled.sha256
        )
        if attached:
            version.refresh_from_db()
            compiled_now.append(version)
        else:
            compiled.path.unlink(missing_ok=True)
    return compiled_now
