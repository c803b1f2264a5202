"""Benchmark: how the pen-drawn digits are mixed into training, judged by the
canvas score (the held-out writers' digits drawn as the page draws them).

    .venv/bin/python -m bench.pen_mix --copies 2                  # the standard preset's mix
    .venv/bin/python -m bench.pen_mix --copies 0                  # MNIST alone
    .venv/bin/python -m bench.pen_mix --copies 2 --slant -0.3,0.3 --rotation -10,10 \
        --height 0.3,0.9 --pen 16,32                              # drawn more variously

Trains one model on MNIST's training part (minus the fixed validation part)
plus `copies` drawings of each training writer's digit, placed with the given
ranges, through the project's own fit(); then prints a markdown row: MNIST
test, canvas (the selection criterion) and USPS (reported, never selected
by). Without a job or a database: the pure training code only. Needs the
MNIST cache (`manage.py fetch_mnist`) and the pen-drawn digits
(--pendigits, default $PENDIGITS_DIR). Results: docs/benchmarks.md.
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np

from bench.datasets import dataset_path


def pair(text: str) -> tuple[float, float]:
    low, high = (float(value) for value in text.split(","))
    return low, high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--architecture", default="cnn_medium")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--no-augment", dest="augment", action="store_false")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--height", type=pair, default=None, help="e.g. 0.3,0.9 of the canvas")
    parser.add_argument("--pen", type=pair, default=None, help="pen widths, e.g. 16,32")
    parser.add_argument("--slant", type=pair, default=None, help="e.g. -0.3,0.3")
    parser.add_argument("--rotation", type=pair, default=None, help="degrees, e.g. -10,10")
    parser.add_argument(
        "--pendigits",
        type=Path,
        default=dataset_path("PENDIGITS_DIR"),
        help="default: $PENDIGITS_DIR",
    )
    parser.add_argument(
        "--usps", type=Path, default=dataset_path("USPS_TEST"), help="default: $USPS_TEST"
    )
    args = parser.parse_args()
    if args.pendigits is None:
        parser.error("the pen-drawn digits are needed: --pendigits or PENDIGITS_DIR")

    from training.ml.datasets import load_mnist, split_validation
    from training.ml.evaluation import evaluate_model
    from training.ml.fit import FitConfig, fit
    from training.ml.pen_canvas import TRAINING_VARIATION, Variation, render_digits
    from training.ml.pendigits import canvas_score, read_pendigits
    from training.ml.usps import usps_as_mnist

    defaults = TRAINING_VARIATION
    variation = Variation(
        height=args.height or defaults.height,
        pen_width=args.pen or defaults.pen_width,
        slant=args.slant or defaults.slant,
        rotation_degrees=args.rotation or defaults.rotation_degrees,
    )
    cache = Path(os.environ.get("MNIST_CACHE_DIR", Path.home() / ".cache/mnistsite"))
    mnist = load_mnist(cache)
    pendigits = read_pendigits(args.pendigits)
    x_train, y_train, x_val, y_val = split_validation(mnist.x_train, mnist.y_train)
    started = time.perf_counter()
    if args.copies:
        images, labels = render_digits(
            pendigits.training_digits(),
            variation=variation,
            seed=1000 + args.seed,  # the drawings apart from the model's seed
            copies=args.copies,
        )
        x_train, y_train = np.concatenate([x_train, images]), np.concatenate([y_train, labels])
    drawn = time.perf_counter() - started

    class Quiet:
        def on_batch(self, **kwargs: object) -> None: ...

        def on_epoch(self, metrics: object) -> None: ...

    config = FitConfig(
        architecture=args.architecture, epochs=args.epochs, augment=args.augment, seed=args.seed
    )
    started = time.perf_counter()
    model = fit(x_train, y_train, x_val, y_val, config, Quiet()).model
    trained = time.perf_counter() - started
    test = evaluate_model(model, mnist.x_test / 255.0, mnist.y_test).accuracy
    canvas = canvas_score(model, pendigits.canvas_set)
    usps = (
        evaluate_model(model, *usps_as_mnist(args.usps)).accuracy
        if args.usps and args.usps.is_file()
        else None
    )
    worst = sorted(
        ((count, f"{true}→{read}") for true, row in enumerate(canvas.confusion_matrix)
         for read, count in enumerate(row) if true != read and count),
        reverse=True,
    )[:4]  # fmt: skip
    print(
        f"| {args.architecture} {args.epochs} ep | {args.copies} | {variation.height} "
        f"| {variation.pen_width} | {variation.slant} | {variation.rotation_degrees} "
        f"| {test:.2%} | **{canvas.accuracy:.2%}** | {'-' if usps is None else f'{usps:.2%}'} "
        f"| {', '.join(f'{confusion} ({count})' for count, confusion in worst)} "
        f"| {drawn:.0f} + {trained:.0f} s |"
    )


if __name__ == "__main__":
    main()
