"""The recognizer's REST API: predictions and inference batches."""
