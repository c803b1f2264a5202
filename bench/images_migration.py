"""Benchmark: upgrading a database whose submissions hold their images
(migration recognizer 0005), and what each submission then costs where.

    .venv/bin/python -m bench.images_migration [--rows 20000]

Uses PostgreSQL: the database of --database-url (default
`mnistsite_bench_images`), DROPPED and created afresh, migrated to
recognizer 0004, then filled with --rows submissions as the canvas makes
them (the ten 280x280 drawings bench/predict_load.py sends, and their 28x28
as the API computes it). It then times the
migration to the latest state, which writes every image to the `submissions`
storage (a folder here), and reports bytes per submission before and after:
in the table (rows, TOAST and indexes, after VACUUM FULL) and in the storage.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.predict_load import recreate_postgres_database

DATABASE = "mnistsite_bench_images"
BEFORE = [("recognizer", "0004_queued_work_status_constraint")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--database-url", default=f"postgres://postgres@127.0.0.1:5432/{DATABASE}")
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="bench-images-"))
    os.environ.update({
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DJANGO_VAR_DIR": str(var),
        "DJANGO_SETTINGS_MODULE": "mnistsite.settings",
        "DATABASE_URL": args.database_url,
    })  # fmt: skip
    recreate_postgres_database(args.database_url)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    # Every other app at its latest, so that only recognizer's are timed.
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "recognizer"]
    executor.migrate([*others, *BEFORE])
    apps = executor.loader.project_state(BEFORE).apps
    drawings = _drawings()
    version = apps.get_model("training", "ModelVersion").objects.create(
        version=1, architecture="bench"
    )
    Submission = apps.get_model("recognizer", "Submission")
    common = {
        "source": "web", "image_format": "PNG", "digit": 1, "confidence": 0.9,
        "probabilities": [0.01] * 9 + [0.91], "model_version": version, "latency_ms": 5.0,
        "session_hash": "0" * 64,
    }  # fmt: skip
    rows = [
        Submission(image=png, preprocessed=seen, **common)
        for png, seen in (drawings[index % len(drawings)] for index in range(args.rows))
    ]
    Submission.objects.bulk_create(rows, batch_size=2000)
    before = _table_bytes(connection)

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    seconds = time.perf_counter() - started

    after = _table_bytes(connection)
    media = Path(settings.MEDIA_ROOT)
    files = [path for path in media.rglob("*") if path.is_file()]
    uploads = sum(path.stat().st_size for path in files if not path.name.endswith("-seen.png"))
    seen = sum(path.stat().st_size for path in files if path.name.endswith("-seen.png"))
    n = args.rows
    print(f"rows: {n:,}; migration: {seconds:.1f} s ({n / seconds:,.0f} rows/s)")
    print(f"table before, per row: {before['row']:,.0f} B row, {before['total'] / n:,.0f} B in all")
    print(f"table after,  per row: {after['row']:,.0f} B row, {after['total'] / n:,.0f} B in all")
    print(f"storage, per row: upload {uploads / n:,.0f} B, 28x28 PNG {seen / n:,.0f} B")


def _drawings() -> list[tuple[bytes, bytes]]:
    """The ten canvas drawings bench/predict_load.py sends, and the 28x28 of
    each as raw bytes (what the table held before)."""
    from recognizer.imaging.decoding import DEFAULT_LIMITS
    from recognizer.imaging.inputs import input_from_image_bytes
    from tests.harness.canvas import DIGITS, canvas_png
    from training.ml.mnist_style import to_uint8

    drawings = []
    for strokes in DIGITS.values():
        png = canvas_png(strokes)
        image28 = input_from_image_bytes(png, DEFAULT_LIMITS).image28
        drawings.append((png, to_uint8(image28).tobytes()))
    return drawings


def _table_bytes(connection) -> dict[str, float]:
    with connection.cursor() as cursor:
        cursor.execute("VACUUM FULL recognizer_submission")
        cursor.execute(
            "SELECT avg(pg_column_size(s.*)), pg_total_relation_size('recognizer_submission') "
            "FROM recognizer_submission s"
        )
        row, total = cursor.fetchone()
    return {"row": float(row), "total": float(total)}


if __name__ == "__main__":
    main()
