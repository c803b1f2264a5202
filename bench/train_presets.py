"""Benchmark: train each preset as a real job and report wall time and accuracy.

    .venv/bin/python -m bench.train_presets quick standard best \
        [--pen-copies 0,preset] [--fresh] [--usps PATH, default $USPS_TEST]

Each job runs in this process through the same code the training worker runs
(`training.runner.run_job`), on a throwaway SQLite database and model store,
so nothing of a developer's `var/` is touched. Wall time is the whole job:
fetching (where the cache is empty), loading MNIST and the pen-drawn digits,
drawing them, training, the test-set and canvas evaluations and saving the
model. Results go in docs/benchmarks.md.

--pen-copies runs each preset once per value, side by side, and gives each
run's time as a ratio to the preset's first run: `0,preset` compares training
on MNIST alone (the pipeline before the pen-drawn digits) with the preset's
own mix. --fresh runs each job first on empty caches (so it fetches MNIST
through its sources and the pen-drawn digits from PENDIGITS_DIR or UCI), then
again on the caches it filled, and gives the ratio of the two (fresh / warm).
"""

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from bench.datasets import dataset_path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("presets", nargs="+", choices=["quick", "standard", "best"])
    parser.add_argument(
        "--usps", type=Path, default=dataset_path("USPS_TEST"), help="default: $USPS_TEST"
    )
    parser.add_argument(
        "--pen-copies",
        default="preset",
        help="comma-separated pen_copies values to run each preset with ('preset': its own)",
    )
    parser.add_argument("--fresh", action="store_true", help="first run each job on empty caches")
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="bench-train-"))
    os.environ.update(
        DJANGO_DEBUG="1", DJANGO_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="mnistsite.settings"
    )
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from training.ml.artifacts import artifact_load
    from training.ml.datasets import fetch_mnist
    from training.ml.evaluation import evaluate_model
    from training.runner import run_job
    from training.services import job_create

    call_command("migrate", verbosity=0)
    settings.TRAINING_ACTIVATION_POLICY = "manual"
    if not args.fresh:
        fetch_mnist(settings.MNIST_CACHE_DIR, log=lambda message: None)
    usps = None
    if args.usps and args.usps.is_file():
        from training.ml.usps import usps_as_mnist

        usps = usps_as_mnist(args.usps)
    else:
        print(f"USPS skipped: no file at {args.usps} (--usps or USPS_TEST)")

    def run(preset: str, copies: str) -> tuple[float, object]:
        overrides = {} if copies == "preset" else {"pen_copies": int(copies)}
        job = job_create(preset=preset, enqueue=False, **overrides)
        started = time.perf_counter()
        outcome = run_job(job.pk)
        return time.perf_counter() - started, outcome

    machine = platform.processor() or platform.machine()
    print(f"# {machine}, {os.cpu_count()} cores, Python {platform.python_version()}")
    # Kept: `DJANGO_VAR_DIR=<it> manage.py export_bundled_model` can ship a version from it.
    print(f"# database and model store: {var}")
    columns = ["preset", "pen copies", "architecture", "epochs", "wall time (s)", "time ratio",
               "MNIST test", "canvas (held-out writers)", "USPS"]  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|" + " --- |" * len(columns))
    for preset in args.presets:
        first = None
        for copies in args.pen_copies.split(","):
            fresh = None
            if args.fresh:
                empty = Path(tempfile.mkdtemp(prefix="bench-cache-"))
                settings.MNIST_CACHE_DIR = settings.PENDIGITS_CACHE_DIR = empty
                settings.MNIST_DIR = ""
                fresh = run(preset, copies)[0]
            wall, outcome = run(preset, copies)
            if outcome is None or outcome.version is None:
                print(f"| {preset} | {copies} | failed: {getattr(outcome, 'error', '?')} |")
                continue
            first = first or wall
            version = outcome.version
            usps_accuracy = "-"
            if usps is not None:
                model = artifact_load(
                    settings.MODEL_STORE_DIR / version.artifact_path, version.artifact_sha256
                )
                usps_accuracy = f"{evaluate_model(model, *usps).accuracy:.2%}"
            pen = version.dataset_fingerprint.get("pendigits", {}).get("copies", 0)
            canvas = "-" if version.canvas_accuracy is None else f"{version.canvas_accuracy:.2%}"
            if fresh is None:
                timing, ratio = f"{wall:.0f}", f"{wall / first:.2f}"
            else:
                timing, ratio = f"{fresh:.0f} fresh / {wall:.0f} warm", f"{fresh / wall:.2f}"
            cells = [preset, pen, version.architecture, version.training_job.epochs, timing,
                     ratio, f"{version.test_accuracy:.2%}", canvas, usps_accuracy]  # fmt: skip
            print("| " + " | ".join(map(str, cells)) + " |", flush=True)


if __name__ == "__main__":
    main()
