"""Migration recognizer 0005 moves existing submissions' image bytes out of
the database into the `submissions` storage, and back when reversed."""

import numpy as np
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from PIL import Image

from tests.harness.canvas import SEVEN, canvas_png

BEFORE = [("recognizer", "0004_queued_work_status_constraint")]
AFTER = [("recognizer", "0005_submission_images_in_storage")]


def migrated_to(target):
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    executor.loader.build_graph()
    return executor.loader.project_state(target).apps


@pytest.mark.django_db(transaction=True)
def test_image_bytes_move_to_the_store_and_back(submission_files):
    seen = np.zeros((28, 28), dtype=np.uint8)
    seen[4:24, 13:16] = 255
    drawing = canvas_png(SEVEN)
    try:
        apps = migrated_to(BEFORE)
        version = apps.get_model("training", "ModelVersion").objects.create(
            version=1, architecture="test"
        )
        rows = apps.get_model("recognizer", "Submission").objects
        common = {"digit": 7, "confidence": 0.9, "probabilities": [0.1] * 10, "latency_ms": 1.0}
        drawn = rows.create(
            source="web", image=drawing, image_format="PNG", preprocessed=seen.tobytes(),
            model_version=version, **common,
        )  # fmt: skip
        pixels = rows.create(
            source="api", image=b"", image_format="pixels", preprocessed=seen.tobytes(),
            model_version=version, **common,
        )  # fmt: skip

        moved = migrated_to(AFTER).get_model("recognizer", "Submission").objects
        after_drawn, after_pixels = moved.get(pk=drawn.pk), moved.get(pk=pixels.pk)
        assert after_drawn.image.name == f"migrated/{drawn.pk}.png"
        assert (submission_files / after_drawn.image.name).read_bytes() == drawing
        assert after_pixels.image.name == ""
        for row in (after_drawn, after_pixels):
            stored = Image.open(submission_files / row.preprocessed.name)
            assert np.array_equal(np.asarray(stored), seen)

        back = migrated_to(BEFORE).get_model("recognizer", "Submission").objects
        assert bytes(back.get(pk=drawn.pk).image) == drawing
        assert bytes(back.get(pk=pixels.pk).image) == b""
        assert bytes(back.get(pk=pixels.pk).preprocessed) == seen.tobytes()
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
