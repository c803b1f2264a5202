"""A batch's run (recognizer/services/batches.py): per-item errors, a second
delivery adds nothing, resume after a dead worker or a lost database, given up
after too many attempts, cancel."""

import base64
from datetime import timedelta

import numpy as np
import pytest
from django.db import OperationalError
from django.utils import timezone

from recognizer.models import BatchResult, InferenceBatch, Submission
from recognizer.services.batches import (
    batch_cancel,
    batch_run,
    batches_resume_stale,
)
from tests.harness.canvas import ONE, SEVEN, canvas_png
from tests.recognizer.batches.uploads import URL, create, mnist_digits, npy_upload


@pytest.mark.django_db
def test_a_batch_runs_with_per_item_errors_and_stores_submissions(integrator, active_model):
    image = base64.b64encode(canvas_png(SEVEN)).decode()
    items = [
        {"image": image, "ref": "seven"},
        {"pixels": [[0] * 28] * 28, "ref": "blank"},
        {"image": "not base64!", "ref": "broken"},
        {"image": base64.b64encode(canvas_png(ONE)).decode()},
    ]
    batch_id = create(integrator, {"items": items}).json()["id"]

    assert batch_run(batch_id=batch_id) == "succeeded"

    status = integrator.get(f"{URL}{batch_id}/").json()
    assert (status["status"], status["processed"], status["failed_items"]) == ("succeeded", 4, 2)
    assert status["progress"] == 1.0 and status["images_per_second"] > 0
    results = integrator.get(f"{URL}{batch_id}/results/").json()["results"]
    assert [row["index"] for row in results] == [0, 1, 2, 3]
    assert [row["digit"] for row in results] == [7, None, None, 1]
    assert results[1]["error"]["code"] == "no_ink"
    assert results[2]["error"]["code"] == "invalid_base64"
    assert results[0]["error"] is None and len(results[0]["probabilities"]) == 10
    submissions = Submission.objects.filter(source="batch")
    assert submissions.count() == 2
    assert {s.user for s in submissions} == {integrator.user}
    assert results[0]["prediction_id"] in set(submissions.values_list("pk", flat=True))
    assert bytes(InferenceBatch.objects.get().payload) == b""  # the upload is dropped when done


@pytest.mark.django_db
def test_running_the_task_twice_adds_nothing(integrator, active_model, mnist_cache):
    images, _ = mnist_digits(mnist_cache, 20)
    batch_id = create(integrator, file=npy_upload(images)).json()["id"]

    first = batch_run(batch_id=batch_id)
    second = batch_run(batch_id=batch_id)

    assert (first, second) == ("succeeded", None)
    assert BatchResult.objects.filter(batch_id=batch_id).count() == 20
    assert Submission.objects.count() == 20


@pytest.mark.django_db
def test_a_batch_whose_worker_died_resumes_after_its_stored_items(
    integrator, active_model, mnist_cache, monkeypatch
):
    images, labels = mnist_digits(mnist_cache, 1200)
    batch_id = create(integrator, file=npy_upload(images)).json()["id"]
    from recognizer.services import batches as batches_module

    monkeypatch.setattr(batches_module, "CHUNK_SIZE", 500)
    calls = {"n": 0}
    original = batches_module._record_chunk

    def dies_after_two_chunks(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise SystemExit("worker killed")  # not an Exception: nothing records the end
        return original(*args, **kwargs)

    monkeypatch.setattr(batches_module, "_record_chunk", dies_after_two_chunks)
    with pytest.raises(SystemExit):
        batch_run(batch_id=batch_id)
    monkeypatch.setattr(batches_module, "_record_chunk", original)
    batch = InferenceBatch.objects.get(pk=batch_id)
    assert (batch.status, batch.processed) == ("running", 1000)

    sent = []
    monkeypatch.setattr(batches_module, "_enqueue", sent.append)
    later = timezone.now() + timedelta(seconds=120)
    resumed = batches_resume_stale(stale_after=timedelta(seconds=60), max_attempts=3, now=later)
    assert resumed == (1, 0) and [b.pk for b in sent] == [batch_id]
    assert batch_run(batch_id=batch_id) == "succeeded"

    results = BatchResult.objects.filter(batch_id=batch_id).order_by("index")
    assert list(results.values_list("index", flat=True)) == list(range(1200))
    assert Submission.objects.count() == 1200
    digits = np.array(list(results.values_list("digit", flat=True)))
    assert (digits == labels).mean() > 0.98
    assert InferenceBatch.objects.get(pk=batch_id).attempts == 2


@pytest.mark.django_db
def test_a_batch_that_loses_the_database_is_left_to_resume_not_failed(
    integrator, active_model, mnist_cache, monkeypatch
):
    images, _ = mnist_digits(mnist_cache, 20)
    batch_id = create(integrator, file=npy_upload(images)).json()["id"]
    from recognizer.services import batches as batches_module

    def database_gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(batches_module, "_record_chunk", database_gone)

    assert batch_run(batch_id=batch_id) is None
    batch = InferenceBatch.objects.get(pk=batch_id)
    assert (batch.status, batch.error) == ("running", "")


@pytest.mark.django_db
def test_a_batch_that_keeps_losing_its_worker_is_failed(integrator, active_model, mnist_cache):
    images, _ = mnist_digits(mnist_cache, 3)
    batch_id = create(integrator, file=npy_upload(images)).json()["id"]
    InferenceBatch.objects.filter(pk=batch_id).update(
        status="running", attempts=3, heartbeat_at=timezone.now() - timedelta(hours=1)
    )

    assert batches_resume_stale(stale_after=timedelta(seconds=60), max_attempts=3) == (0, 1)
    batch = InferenceBatch.objects.get(pk=batch_id)
    assert batch.status == "failed" and "stopped 3 times" in batch.error


@pytest.mark.django_db
def test_cancelling_a_queued_batch_ends_it_and_running_it_does_nothing(integrator, active_model):
    batch_id = create(integrator, {"items": [{"pixels": [[9] * 28] * 28}]}).json()["id"]

    response = integrator.post(f"{URL}{batch_id}/cancel/")

    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert batch_run(batch_id=batch_id) is None
    assert not BatchResult.objects.exists()
    again = integrator.post(f"{URL}{batch_id}/cancel/")
    assert again.status_code == 409 and again.json()["code"] == "already_finished"


@pytest.mark.django_db
def test_a_running_batch_stops_after_its_current_chunk(
    integrator, active_model, mnist_cache, monkeypatch
):
    images, _ = mnist_digits(mnist_cache, 1500)
    batch_id = create(integrator, file=npy_upload(images)).json()["id"]
    from recognizer.services import batches as batches_module

    monkeypatch.setattr(batches_module, "CHUNK_SIZE", 500)
    original = batches_module._record_chunk

    def cancel_during_first_chunk(batch, *args, **kwargs):
        original(batch, *args, **kwargs)
        batch_cancel(batch_id=batch.pk)

    monkeypatch.setattr(batches_module, "_record_chunk", cancel_during_first_chunk)

    assert batch_run(batch_id=batch_id) == "cancelled"
    assert BatchResult.objects.filter(batch_id=batch_id).count() == 500
