"""Benchmark: a 10,000-image batch through the real worker, against the same
model's raw `model.predict` on the same arrays, in the same run.

    .venv/bin/python -m bench.batch_throughput [--count 10000] [--runs 3]

Uses PostgreSQL and Redis (the production set-up): the database of
--database-url (default `mnistsite_bench_batch`), DROPPED and created afresh,
and the Redis db of --redis-url; the bundled model; and one `celery worker`
process, started as the Procfile starts it (tests/harness/processes.py) with
one child, consuming the `inference` queue only.

End to end is measured from the `202` of `POST /api/v1/batches/` (an `.npy`
upload of MNIST test digits) until the batch reads `succeeded`, polling every
20 ms; it includes the worker picking the task up, decoding, inference, and
storing every result and submission. Raw is `model.predict(x, batch_size=500)`
on the same images already as floats, in this process, with the worker idle.
"""

import argparse
import io
import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench.predict_load import recreate_postgres_database
from tests.harness import processes as harness

DATABASE = "mnistsite_bench_batch"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=f"postgres://postgres@127.0.0.1:5432/{DATABASE}")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    env = {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
        "DJANGO_VAR_DIR": str(var),
        "DJANGO_SETTINGS_MODULE": "mnistsite.settings",
        "DATABASE_URL": args.database_url,
        "CELERY_BROKER_URL": args.redis_url,
        "REDIS_URL": args.redis_url,
        "MODEL_STORE_DIR": str(var / "models"),
    }
    os.environ.update(env)
    recreate_postgres_database(args.database_url)
    import django

    django.setup()
    import numpy as np
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from recognizer.models import BatchResult
    from training.ml.artifacts import artifact_load
    from training.ml.datasets import load_mnist
    from training.models import ModelVersion

    call_command("migrate", verbosity=0)
    call_command("ensure_bundled_model", verbosity=0)
    version = ModelVersion.objects.get(is_active=True)
    user = get_user_model().objects.create_user(username="bench", password="x" * 20)
    client = Client(headers={"Authorization": f"Token {Token.objects.create(user=user).key}"})

    mnist = load_mnist(settings.MNIST_CACHE_DIR)
    images = np.resize(mnist.x_test, (args.count, 28, 28))
    labels = np.resize(mnist.y_test, args.count)
    upload = io.BytesIO()
    np.save(upload, images)

    model = artifact_load(settings.MODEL_STORE_DIR / version.artifact_path, version.artifact_sha256)
    floats = images.astype(np.float32)[..., None] / 255.0
    model.predict(floats[:500], batch_size=500, verbose=0)  # warm up
    raw = []
    for _ in range(args.runs):
        started = time.perf_counter()
        model.predict(floats, batch_size=500, verbose=0)
        raw.append(args.count / (time.perf_counter() - started))

    worker = _start_worker(var)
    try:
        end_to_end, accuracy = [], []
        for _ in range(args.runs):
            upload.seek(0)
            upload.name = "digits.npy"
            response = client.post("/api/v1/batches/", {"file": upload})
            accepted = time.perf_counter()
            assert response.status_code == 202, response.content
            batch_id = response.json()["id"]
            while client.get(f"/api/v1/batches/{batch_id}/").json()["status"] in (
                "queued",
                "running",
            ):
                time.sleep(0.02)
            elapsed = time.perf_counter() - accepted
            status = client.get(f"/api/v1/batches/{batch_id}/").json()
            assert status["status"] == "succeeded", status
            digits = np.array(
                list(
                    BatchResult.objects.filter(batch_id=batch_id)
                    .order_by("index")
                    .values_list("digit", flat=True)
                )
            )
            assert len(digits) == args.count
            end_to_end.append((elapsed, args.count / elapsed))
            accuracy.append(float((digits == labels).mean()))
    finally:
        harness.stop(worker, timeout=20)

    best_raw = max(raw)
    print(f"\n{args.count} images (MNIST test digits as an .npy upload), model v{version.version} "
          f"({version.architecture}), {args.runs} runs\n")  # fmt: skip
    print("| run | 202 -> succeeded | images/s end to end | share of raw predict | accuracy |")
    print("| --- | --- | --- | --- | --- |")
    for index, ((elapsed, rate), acc) in enumerate(zip(end_to_end, accuracy, strict=True), 1):
        print(f"| {index} | {elapsed:.2f} s | {rate:,.0f} | {rate / best_raw:.0%} | {acc:.2%} |")
    print(f"\nraw model.predict, same arrays: {', '.join(f'{r:,.0f}' for r in raw)} images/s")


def _start_worker(var: Path) -> subprocess.Popen:
    """The Procfile's worker with one child, on the `inference` queue only."""
    command = harness.procfile_command(
        "worker",
        {"WORKER_CONCURRENCY": 1},
        options={"--queues": "inference"},
        flags=["--without-gossip", "--without-mingle"],
    )
    log = var / "worker.log"
    worker = harness.start(command, env=dict(os.environ), log=log)
    harness.wait_for_mark(worker, log, b"ready.", timeout=60, name="worker", interval=0.2)
    return worker


if __name__ == "__main__":
    main()
