"""The training app's REST API: model versions and training jobs."""
