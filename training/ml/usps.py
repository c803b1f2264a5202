"""The USPS handwritten digits test split (2,007 images), a non-MNIST test set.

No Django here. The file (`zip.test.gz`) is gzip text: per line a label and
256 grey values in [-1, 1] for a 16x16 image, -1 background, 1 full ink.
It is used for honest cross-domain numbers only, never for training.
"""

import gzip
import hashlib
from pathlib import Path

import numpy as np

from training.ml.mnist_style import mnist_from_ink

USPS_TEST_SHA256 = "8dacc3c6e136af6c3488de9e5113a7daf140c8c2f1f0b61c54ee02f03f1a962f"
SIDE = 16


def load_usps(path: Path, *, sha256: str = USPS_TEST_SHA256) -> tuple[np.ndarray, np.ndarray]:
    """Verify and parse the file -> ink images (N, 16, 16) float32 in [0, 1]
    (1 = full ink) and labels (N,) int64. Raises ValueError when the file's
    sha256 differs from `sha256` or a line is malformed."""
    data = Path(path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ValueError(f"{path}: sha256 is {digest}, expected {sha256}")
    rows = [line.split() for line in gzip.decompress(data).decode("ascii").splitlines()]
    rows = [row for row in rows if row]
    for number, row in enumerate(rows, start=1):
        if len(row) != 1 + SIDE * SIDE:
            raise ValueError(f"{path}: line {number} has {len(row)} values, not {1 + SIDE * SIDE}")
    values = np.asarray(rows, dtype=np.float64)
    labels = values[:, 0]
    if not np.all((labels == np.round(labels)) & (labels >= 0) & (labels <= 9)):
        raise ValueError(f"{path}: labels must be whole numbers 0-9")
    # [-1, 1] with -1 background -> [0, 1] with 0 background.
    images = np.clip((values[:, 1:] + 1.0) / 2.0, 0.0, 1.0).reshape(-1, SIDE, SIDE)
    return images.astype(np.float32), labels.astype(np.int64)


def usps_as_mnist(path: Path, *, sha256: str = USPS_TEST_SHA256) -> tuple[np.ndarray, np.ndarray]:
    """The USPS digits through the same MNIST preprocessing as a drawing:
    (N, 28, 28) float32 light digit on black, and labels (N,) int64."""
    images, labels = load_usps(path, sha256=sha256)
    return np.stack([mnist_from_ink(image) for image in images]), labels
