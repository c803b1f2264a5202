"""Benchmark: train each preset as a real job and report wall time and accuracy.

    .venv/bin/python bench/train_presets.py quick standard best \
        [--usps ../shared/datasets/usps/zip.test.gz]

Each job runs in this process through the same code the training worker runs
(`training.runner.run_job`), on a throwaway SQLite database and model store,
so nothing of a developer's `var/` is touched. Wall time is the whole job:
loading MNIST, training, the test-set evaluation and saving the model.
Results go in docs/benchmarks.md.
"""

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("presets", nargs="+", choices=["quick", "standard", "best"])
    parser.add_argument(
        "--usps", type=Path, default=ROOT.parent / "shared/datasets/usps/zip.test.gz"
    )
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
    fetch_mnist(settings.MNIST_CACHE_DIR, log=lambda message: None)
    usps = None
    if args.usps.is_file():
        from recognizer.usps import usps_as_mnist

        usps = usps_as_mnist(args.usps)
    else:
        print(f"USPS skipped: no file at {args.usps}")

    machine = platform.processor() or platform.machine()
    print(f"# {machine}, {os.cpu_count()} cores, Python {platform.python_version()}")
    columns = ["preset", "architecture", "parameters", "epochs", "wall time (s)",
               "MNIST test accuracy", "USPS accuracy"]  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|" + " --- |" * len(columns))
    for preset in args.presets:
        job = job_create(preset=preset, enqueue=False)
        started = time.perf_counter()
        outcome = run_job(job.pk)
        wall = time.perf_counter() - started
        if outcome is None or outcome.version is None:
            print(f"| {preset} | failed: {getattr(outcome, 'error', '?')} |")
            continue
        version = outcome.version
        usps_accuracy = "-"
        if usps is not None:
            model = artifact_load(
                settings.MODEL_STORE_DIR / version.artifact_path, version.artifact_sha256
            )
            usps_accuracy = f"{evaluate_model(model, *usps).accuracy:.2%}"
        print(
            f"| {preset} | {version.architecture} | {version.parameter_count:,} | {job.epochs} "
            f"| {wall:.0f} | {version.test_accuracy:.2%} | {usps_accuracy} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
