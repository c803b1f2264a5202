from django.apps import AppConfig


class RecognizerConfig(AppConfig):
    """The using of models: the drawing page, predictions and batches."""

    name = "recognizer"
    verbose_name = "Recognizer"
