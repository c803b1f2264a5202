import numpy as np
from django.db import transaction

from training.models import LabelledSample, ModelVersion


class SampleError(ValueError):
    pass


@transaction.atomic
def labelled_sample_create(
    *,
    image: np.ndarray,
    label: int,
    source: str,
    model_version: ModelVersion | None = None,
    predicted_digit: int | None = None,
) -> LabelledSample:
    """Store a 28x28 uint8 image (MNIST convention) with its true label and,
    for feedback, the version that read it and what it said."""
    image = np.asarray(image)
    if image.shape != (28, 28) or image.dtype != np.uint8:
        raise SampleError("a labelled sample is a 28x28 uint8 image")
    if not 0 <= int(label) <= 9:
        raise SampleError("the label must be a digit 0-9")
    return LabelledSample.objects.create(
        image=image.tobytes(),
        label=int(label),
        source=source,
        model_version=model_version,
        predicted_digit=predicted_digit,
    )


@transaction.atomic
def labelled_sample_relabel(*, sample: LabelledSample, label: int) -> LabelledSample:
    """Correct a sample's label (a visitor changed their answer, staff relabelled)."""
    if not 0 <= int(label) <= 9:
        raise SampleError("the label must be a digit 0-9")
    sample.label = int(label)
    sample.save(update_fields=["label"])
    return sample
