"""Benchmark: where the bundled model's USPS errors come from.

    .venv/bin/python -m bench.usps_gap [--usps PATH, default $USPS_TEST]

USPS is evaluated on, never trained on or tuned against; this script only
looks. It prints, for the bundled model (training/bundled/):

1. USPS and MNIST test accuracy of each ensemble member and of their average,
   and how many USPS errors every member makes (errors no averaging can fix);
2. the most common confusions;
3. two ways USPS could differ from MNIST that preprocessing or augmentation
   might remove, measured on the images themselves: slant (the row-column
   slope of the ink's second moments) and resolution (MNIST test digits
   shrunk to USPS's 16 px, then preprocessed like a drawing).

Needs the MNIST cache (`python manage.py fetch_mnist`).
"""

import argparse
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from bench.datasets import dataset_path

ROOT = Path(__file__).resolve().parent.parent

BUNDLE = ROOT / "training" / "bundled"


def slopes(images: np.ndarray) -> np.ndarray:
    """Per image: the ink's row-column covariance over its row variance
    (columns of lean per row; 0 is upright)."""
    ink = images.astype(np.float64)
    rows, cols = np.mgrid[: ink.shape[1], : ink.shape[2]]
    total = ink.sum(axis=(1, 2))
    row_mean = (ink * rows).sum(axis=(1, 2)) / total
    col_mean = (ink * cols).sum(axis=(1, 2)) / total
    row_centred = rows - row_mean[:, None, None]
    col_centred = cols - col_mean[:, None, None]
    row_var = (ink * row_centred**2).sum(axis=(1, 2)) / total
    return (ink * row_centred * col_centred).sum(axis=(1, 2)) / total / row_var


def at_usps_resolution(images: np.ndarray, side: int = 16) -> np.ndarray:
    """MNIST uint8 digits cropped, shrunk (area averaging) so the longer side
    is `side` px, then through the site's preprocessing for drawings."""
    from recognizer.imaging.mnist import mnist_from_ink

    out = []
    for image in images:
        ink = image.astype(np.float32) / 255.0
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        scale = side / max(crop.shape)
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        small = Image.fromarray(crop).resize(size, Image.Resampling.BOX)
        out.append(mnist_from_ink(np.asarray(small)))
    return np.stack(out)


def read(net, images: np.ndarray) -> np.ndarray:
    """Class probabilities of (N, 28, 28) float images."""
    return net.predict(images[..., None], batch_size=512, verbose=0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--usps", type=Path, default=dataset_path("USPS_TEST"), help="default: $USPS_TEST"
    )
    args = parser.parse_args()
    if args.usps is None:
        parser.error("the USPS test split is needed: --usps or USPS_TEST")

    from training.ml.artifacts import artifact_load
    from training.ml.datasets import load_mnist
    from training.ml.usps import usps_as_mnist

    metadata = json.loads((BUNDLE / "metadata.json").read_text())
    model = artifact_load(BUNDLE / metadata["file"], metadata["sha256"])
    usps_x, usps_y = usps_as_mnist(args.usps)
    cache = Path(os.environ.get("MNIST_CACHE_DIR", Path.home() / ".cache" / "mnistsite"))
    mnist = load_mnist(cache.expanduser())
    mnist_x = mnist.x_test.astype(np.float32) / 255.0

    # The bundled model averages its members' probabilities (an Average
    # layer), so the average is computed here from the members' answers.
    members = [layer for layer in model.layers if layer.name.startswith("member_")] or [model]
    usps_p = [read(member, usps_x) for member in members]
    mnist_p = [read(member, mnist_x) for member in members]
    rows = [(m.name, u, t) for m, u, t in zip(members, usps_p, mnist_p, strict=True)]
    rows.append(("average", np.mean(usps_p, axis=0), np.mean(mnist_p, axis=0)))
    print("| model | USPS accuracy | USPS errors | MNIST test accuracy |")
    print("| --- | --- | --- | --- |")
    for name, usps_probabilities, mnist_probabilities in rows:
        wrong = np.flatnonzero(usps_probabilities.argmax(axis=1) != usps_y)
        mnist_accuracy = (mnist_probabilities.argmax(axis=1) == mnist.y_test).mean()
        print(
            f"| {name} | {1 - len(wrong) / len(usps_y):.2%} | {len(wrong)} | {mnist_accuracy:.2%} |"
        )
    every_member = np.logical_and.reduce([p.argmax(axis=1) != usps_y for p in usps_p])
    print(f"\nUSPS errors every member makes: {int(every_member.sum())}")
    guesses = rows[-1][1].argmax(axis=1)
    confusions = Counter(
        (int(true), int(read)) for true, read in zip(usps_y, guesses, strict=True) if true != read
    )
    print("Most common confusions (true -> read as: count):", ", ".join(
        f"{true} -> {read}: {count}" for (true, read), count in confusions.most_common(6)
    ))  # fmt: skip

    print("\n| images | mean slope | mean absolute slope |")
    print("| --- | --- | --- |")
    for name, images in (("MNIST test", mnist_x), ("USPS, preprocessed", usps_x)):
        values = slopes(images)
        print(f"| {name} | {values.mean():+.3f} | {np.abs(values).mean():.3f} |")

    shrunk = at_usps_resolution(mnist.x_test)
    guess = np.mean([read(member, shrunk) for member in members], axis=0).argmax(axis=1)
    print(f"\nMNIST test digits at 16 px, preprocessed: {(guess == mnist.y_test).mean():.2%}")


if __name__ == "__main__":
    main()
