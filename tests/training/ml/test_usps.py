"""The USPS test split: verified before parsing, and put through the same
MNIST preprocessing as a drawing."""

import gzip
import hashlib
import shutil

import numpy as np
import pytest

from tests.conftest import USPS_TEST
from training.ml.mnist_style import BOX, CENTRE
from training.ml.usps import load_usps, usps_as_mnist

CLASS_COUNTS = [359, 264, 198, 166, 200, 160, 170, 147, 166, 177]

needs_usps = pytest.mark.skipif(
    not USPS_TEST.exists(),
    reason=f"USPS test split not found at {USPS_TEST} (set USPS_TEST to the file)",
)


@pytest.fixture(scope="module")
def usps_mnist() -> tuple[np.ndarray, np.ndarray]:
    return usps_as_mnist(USPS_TEST)


@needs_usps
def test_loads_2007_ink_images_with_the_documented_class_counts():
    images, labels = load_usps(USPS_TEST)
    assert images.shape == (2007, 16, 16)
    assert images.dtype == np.float32
    assert labels.dtype == np.int64
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), CLASS_COUNTS)
    # Ink is 1 and background 0: most of a 16x16 digit image is background.
    assert np.median(images) == 0.0


@needs_usps
def test_tampered_copy_is_refused(tmp_path):
    copy = tmp_path / "zip.test.gz"
    shutil.copyfile(USPS_TEST, copy)
    data = bytearray(copy.read_bytes())
    data[-20] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256"):
        load_usps(copy)


def test_malformed_line_is_refused_even_with_the_right_checksum(tmp_path):
    path = tmp_path / "short.gz"
    path.write_bytes(gzip.compress(b"3.0000 " + b"-1 " * 200 + b"\n"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="line 1 has 201 values"):
        load_usps(path, sha256=digest)


def test_a_well_formed_file_maps_minus_one_to_background(tmp_path):
    values = np.full(256, -1.0)
    values[:16] = 1.0
    values[16] = 0.0
    path = tmp_path / "one.gz"
    path.write_bytes(gzip.compress(("7.0000 " + " ".join(map(str, values)) + "\n").encode()))
    images, labels = load_usps(path, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    assert labels.tolist() == [7]
    assert images[0, 0].tolist() == [1.0] * 16
    assert images[0, 1, 0] == 0.5
    assert images[0, 2:].max() == 0.0


@needs_usps
def test_usps_as_mnist_gives_28x28_digits(usps_mnist):
    images, labels = usps_mnist
    assert images.shape == (2007, 28, 28)
    assert images.dtype == np.float32
    assert labels.shape == (2007,)
    assert images.min() >= 0.0 and images.max() <= 1.0


@needs_usps
def test_every_usps_digit_is_centred_by_mass_in_a_20px_box(usps_mnist):
    images, _ = usps_mnist
    total = images.sum(axis=(1, 2))
    index = np.arange(28)
    rows = (images.sum(axis=2) * index).sum(axis=1) / total
    cols = (images.sum(axis=1) * index).sum(axis=1) / total
    assert np.abs(rows - CENTRE).max() <= 0.5
    assert np.abs(cols - CENTRE).max() <= 0.5

    def extent(inked: np.ndarray) -> np.ndarray:
        return 28 - inked[:, ::-1].argmax(axis=1) - inked.argmax(axis=1)

    inked = images > 0
    longer = np.maximum(extent(inked.any(axis=2)), extent(inked.any(axis=1)))
    np.testing.assert_array_equal(longer, BOX)
