"""The training app in the Django admin: model versions (metrics, pictures,
activation, accuracy history), training jobs (retrain, live progress) and
labelled samples."""

from training.admin.jobs import TrainingJobAdmin
from training.admin.samples import LabelledSampleAdmin
from training.admin.versions import ModelVersionAdmin

__all__ = ["LabelledSampleAdmin", "ModelVersionAdmin", "TrainingJobAdmin"]
