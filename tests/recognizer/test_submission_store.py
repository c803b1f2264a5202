"""Submission images in the `submissions` storage (recognizer/submission_store.py):
files in MEDIA_ROOT by default, in a bucket when one is configured (moto's S3
server here), written before the row that names them. With the store down a
prediction keeps its images in the database until they are flushed, and a
batch waits to be resumed: nothing is lost."""

import base64
import io
import re
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image

from recognizer import submission_store
from recognizer.imaging.inputs import DigitInput
from recognizer.models import InferenceBatch, PendingImage, Submission
from recognizer.services.batches import batch_run, batches_resume_stale
from recognizer.services.submission_images import pending_images_flush, seen_image
from recognizer.submission_store import batch_item_stem, image_read, images_save_many
from tests.broker import record_sent_tasks
from tests.harness.canvas import ONE, SEVEN, canvas_png
from tests.object_store import FlakyStorage, MemoryStore, S3Store
from tests.recognizer.batches.uploads import create
from training.models import LabelledSample

pytestmark = pytest.mark.django_db
PREDICTIONS = "/api/v1/predictions/"


@pytest.fixture
def s3(settings):
    store = S3Store(overwrite=True)
    settings.STORAGES = {**settings.STORAGES, "submissions": store.backend}
    yield store
    store.close()


@pytest.fixture
def flaky(settings):
    store = MemoryStore()
    settings.STORAGES = {**settings.STORAGES, "submissions": store.backend}
    yield FlakyStorage
    store.close()


def predict(client, strokes=ONE):
    body = {"image": base64.b64encode(canvas_png(strokes)).decode()}
    return client.post(PREDICTIONS, body, content_type="application/json")


def test_a_prediction_stores_its_upload_and_28x28_as_files_its_row_names(
    client, active_model, submission_files
):
    response = predict(client, SEVEN)

    assert response.status_code == 201
    row = Submission.objects.get()
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/[0-9a-f]{32}\.png", row.image.name)
    assert row.preprocessed.name == row.image.name.replace(".png", "-seen.png")
    assert (submission_files / row.image.name).read_bytes() == canvas_png(SEVEN)
    seen = Image.open(submission_files / row.preprocessed.name)
    assert (seen.format, seen.mode, seen.size) == ("PNG", "L", (28, 28))
    assert seen_image(row.preprocessed.name).max() == 255  # light digit on black


def test_a_pixel_array_has_only_its_28x28_stored(client, active_model, submission_files):
    pixels = np.zeros((28, 28), dtype=np.uint8)
    pixels[4:24, 13:16] = 255
    response = client.post(
        PREDICTIONS, {"pixels": pixels.tolist()}, content_type="application/json"
    )

    assert response.status_code == 201
    row = Submission.objects.get()
    assert row.image.name == "" and row.image_format == "pixels"
    assert np.array_equal(seen_image(row.preprocessed.name) > 0, pixels > 0)
    assert [path.name for path in submission_files.rglob("*.png")] == [
        row.preprocessed.name.rsplit("/", 1)[1]
    ]


def test_on_s3_predictions_batches_and_feedback_use_the_bucket(
    client, integrator, active_model, s3, submission_files
):
    client.get("/")  # the drawing page's session: the prediction is its own
    prediction = predict(client, SEVEN).json()
    feedback = client.post(
        f"{PREDICTIONS}{prediction['id']}/feedback/", {"label": 7}, content_type="application/json"
    )
    items = [{"image": base64.b64encode(canvas_png(ONE)).decode()}, {"pixels": [[0] * 28] * 28}]
    batch_id = create(integrator, {"items": items}).json()["id"]
    assert batch_run(batch_id=batch_id) == "succeeded"

    single, item = Submission.objects.order_by("pk")
    assert feedback.status_code == 200
    assert s3.read(single.image.name) == canvas_png(SEVEN)
    assert (item.image.name, item.preprocessed.name) == (
        f"{batch_item_stem(batch_id, 0)}.png",
        f"{batch_item_stem(batch_id, 0)}-seen.png",
    )
    assert s3.keys() == {
        single.image.name, single.preprocessed.name, item.image.name, item.preprocessed.name
    }  # fmt: skip
    sample = LabelledSample.objects.get()
    assert bytes(sample.image) == seen_image(single.preprocessed.name).tobytes()
    assert not submission_files.exists()  # nothing on this host's disk


def test_with_the_store_down_a_prediction_keeps_its_images_in_the_database_until_flushed(
    client, active_model, flaky, admin_user
):
    flaky.down = True

    response = predict(client, SEVEN)

    assert response.status_code == 201
    row = Submission.objects.get()
    pending = dict(PendingImage.objects.values_list("key", "data"))
    assert set(pending) == {row.image.name, row.preprocessed.name}
    assert bytes(pending[row.image.name]) == canvas_png(SEVEN)
    client.force_login(admin_user)  # staff see it while it waits
    drawing = client.get(f"/admin/recognizer/submission/{row.pk}/image/original.png")
    assert drawing.status_code == 200

    assert pending_images_flush() == 0  # still down: nothing moves, nothing is lost
    assert PendingImage.objects.count() == 2
    flaky.down = False
    submission_store.store_breaker.reset()  # as a later flush would
    assert pending_images_flush() == 2
    assert not PendingImage.objects.exists()
    assert image_read(row.image.name) == canvas_png(SEVEN)
    assert seen_image(row.preprocessed.name).shape == (28, 28)


def test_with_the_store_down_and_the_backlog_full_a_prediction_is_a_503(
    client, active_model, s3, settings
):
    settings.SUBMISSION_BACKLOG_MAX_BYTES = 3_000  # one drawing of a 1 fits (1.8 kB)
    s3.take_down()

    first, second = predict(client), predict(client)

    assert first.status_code == 201
    assert second.status_code == 503 and second.json()["code"] == "storage_unavailable"
    assert Submission.objects.count() == 1 and PendingImage.objects.count() == 2


def test_feedback_with_the_store_down_is_a_503_and_changes_nothing(client, active_model, flaky):
    client.get("/")
    prediction = predict(client).json()
    flaky.down = True

    response = client.post(
        f"{PREDICTIONS}{prediction['id']}/feedback/", {"label": 1}, content_type="application/json"
    )

    assert response.status_code == 503 and response.json()["code"] == "storage_unavailable"
    assert Submission.objects.get().feedback_label is None
    assert not LabelledSample.objects.exists()


def test_a_batch_that_loses_the_store_waits_and_finishes_once_it_is_back(
    integrator, active_model, flaky, monkeypatch
):
    items = [{"image": base64.b64encode(canvas_png(SEVEN)).decode(), "ref": "seven"}]
    batch_id = create(integrator, {"items": items}).json()["id"]
    flaky.down = True

    assert batch_run(batch_id=batch_id) is None  # left running, for the reaper
    batch = InferenceBatch.objects.get(pk=batch_id)
    assert (batch.status, batch.error, batch.processed) == ("running", "", 0)
    assert bytes(batch.payload) and not Submission.objects.exists()

    flaky.down = False
    submission_store.store_breaker.reset()  # as on a later run
    InferenceBatch.objects.filter(pk=batch_id).update(
        heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    sent = record_sent_tasks(monkeypatch)
    assert batches_resume_stale(stale_after=timedelta(seconds=60), max_attempts=3) == (1, 0)
    assert len(sent) == 1 and batch_run(batch_id=batch_id) == "succeeded"
    assert image_read(Submission.objects.get().image.name) == canvas_png(SEVEN)


@pytest.mark.parametrize("backend", ["folder", "s3"])
def test_a_batch_item_written_again_keeps_its_key(backend, settings, submission_files):
    """A resumed batch repeats the items its first run stored but did not commit."""
    store = S3Store(overwrite=True) if backend == "s3" else None
    if store:
        settings.STORAGES = {**settings.STORAGES, "submissions": store.backend}
    image28 = np.zeros((28, 28), np.float32)
    image28[4:24, 13:16] = 1.0
    item = DigitInput(image28, canvas_png(ONE), "PNG")
    try:
        first = images_save_many([(batch_item_stem(5, 0), item)])
        again = images_save_many([(batch_item_stem(5, 0), item)])
        stored = store.keys() if store else {
            str(path.relative_to(submission_files)) for path in submission_files.rglob("*.*")
        }  # fmt: skip
    finally:
        if store:
            store.close()

    assert first == again
    assert stored == {"batches/5/0.png", "batches/5/0-seen.png"}


def test_the_seen_png_is_what_the_model_saw_bit_for_bit(client, active_model):
    response = client.post(f"{PREDICTIONS}?include=preprocessed", {
        "image": base64.b64encode(canvas_png(SEVEN)).decode()
    }, content_type="application/json")  # fmt: skip

    rows = np.array(response.json()["preprocessed"], dtype=np.uint8)
    stored = Image.open(io.BytesIO(image_read(Submission.objects.get().preprocessed.name)))
    assert np.array_equal(np.asarray(stored), rows)
