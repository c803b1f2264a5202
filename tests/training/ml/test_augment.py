import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from training.ml.augment import augment_batch  # noqa: E402


def _digits() -> np.ndarray:
    images = np.zeros((64, 28, 28, 1), dtype=np.float32)
    images[:, 6:22, 12:16, 0] = 1.0  # a "1"
    return images


def test_augmented_images_keep_shape_and_range_and_differ_from_the_input():
    images = _digits()

    augmented = augment_batch(tf.constant(images)).numpy()

    assert augmented.shape == images.shape
    assert augmented.min() >= 0.0 and augmented.max() <= 1.0
    changed = np.abs(augmented - images).reshape(64, -1).max(axis=1) > 0.1
    assert changed.mean() > 0.9


def test_augmentation_keeps_the_digit_in_the_field_and_near_the_centre():
    augmented = augment_batch(tf.constant(_digits())).numpy()[..., 0]

    ink = augmented.sum(axis=(1, 2))
    rows, cols = np.indices((28, 28))
    centre_row = (augmented * rows).sum(axis=(1, 2)) / ink
    centre_col = (augmented * cols).sum(axis=(1, 2)) / ink
    assert ink.min() > 0.4 * _digits()[0].sum()  # strokes never vanish
    assert np.abs(centre_row - 13.5).max() < 5 and np.abs(centre_col - 13.5).max() < 5
