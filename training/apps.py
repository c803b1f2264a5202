from django.apps import AppConfig


class TrainingConfig(AppConfig):
    """The making of models: training jobs and the registry of model versions."""

    name = "training"
    verbose_name = "Training"
