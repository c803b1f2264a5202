"""Inference batches: the API, the run (in process and through a real
worker), idempotent re-delivery, resume after a dead worker, cancel, CSV,
callbacks."""

import base64
import csv
import http.server
import io
import json
import threading
import zipfile
from datetime import timedelta

import numpy as np
import pytest
from django.db import OperationalError
from django.utils import timezone
from rest_framework.authtoken.models import Token

from recognizer.models import BatchResult, InferenceBatch, Submission
from recognizer.services.batches import (
    batch_cancel,
    batch_run,
    batches_resume_stale,
)
from recognizer.tasks import NotDelivered, batch_callback_task
from tests.broker import refuse_tasks, send_tasks_to_queue
from tests.conftest import HttpsClient, wait_until
from tests.harness.canvas import ONE, SEVEN, canvas_png

URL = "/api/v1/batches/"


def mnist_digits(mnist_cache, count: int) -> tuple[np.ndarray, np.ndarray]:
    from training.ml.datasets import load_mnist

    mnist = load_mnist(mnist_cache)
    return mnist.x_test[:count], mnist.y_test[:count]


def npy_upload(images: np.ndarray, name: str = "digits.npy") -> io.BytesIO:
    buffer = io.BytesIO()
    np.save(buffer, images)
    buffer.seek(0)
    buffer.name = name
    return buffer


def create(client, body=None, **kwargs):
    if body is not None:
        return client.post(URL, body, content_type="application/json")
    return client.post(URL, kwargs)


@pytest.mark.django_db
def test_a_json_batch_is_accepted_with_202_before_any_inference(integrator, active_model):
    image = base64.b64encode(canvas_png(SEVEN)).decode()
    items = [{"image": image, "ref": "seven"}, {"pixels": [[0] * 28] * 28, "ref": "blank"}]

    response = create(integrator, {"items": items})

    assert response.status_code == 202, response.json()
    batch = response.json()
    assert batch["status"] == "queued" and batch["total"] == 2 and batch["processed"] == 0
    assert batch["model_version"] == 1
    assert response["Location"].endswith(f"/api/v1/batches/{batch['id']}/")
    assert not BatchResult.objects.exists() and not Submission.objects.exists()


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


@pytest.mark.django_db
def test_results_download_as_csv(integrator, active_model, mnist_cache):
    images, labels = mnist_digits(mnist_cache, 5)
    batch_id = create(integrator, file=npy_upload(images)).json()["id"]
    batch_run(batch_id=batch_id)

    response = integrator.get(f"{URL}{batch_id}/results/?format=csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [int(row["digit"]) for row in rows] == labels.tolist()
    assert float(rows[0]["p" + str(labels[0])]) == float(rows[0]["confidence"])


FORMULAS = ['=HYPERLINK("http://evil.example/")', "+1+1", "-2+3", "@SUM(A1)", "\tA", "\r=1"]


@pytest.mark.django_db
def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_escaped(integrator, active_model):
    pixels = [[0] * 28] * 28  # no ink: the row also carries an error message
    items = [{"pixels": pixels, "ref": ref} for ref in FORMULAS]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr('=HYPERLINK("http://evil.example/").png', canvas_png(SEVEN))
    archive.seek(0)
    archive.name = "drawings.zip"
    json_batch = create(integrator, {"items": items}).json()["id"]
    zip_batch = create(integrator, file=archive).json()["id"]
    batch_run(batch_id=json_batch)
    batch_run(batch_id=zip_batch)

    def csv_rows(batch_id: int) -> list[dict]:
        response = integrator.get(f"{URL}{batch_id}/results/?format=csv")
        return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    rows = csv_rows(json_batch)
    assert [row["ref"] for row in rows] == ["'" + ref for ref in FORMULAS]
    assert all(row["error_code"] == "no_ink" for row in rows)
    assert csv_rows(zip_batch)[0]["ref"] == """'=HYPERLINK("http://evil.example/").png"""
    # The JSON results are the data as given; only the spreadsheet download escapes.
    assert integrator.get(f"{URL}{json_batch}/results/").json()["results"][0]["ref"] == FORMULAS[0]


@pytest.mark.django_db
def test_a_zip_of_pngs_and_an_npz_are_accepted(integrator, active_model):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("one.png", canvas_png(ONE))
        writer.writestr("seven.png", canvas_png(SEVEN))
    archive.seek(0)
    archive.name = "drawings.zip"
    npz = io.BytesIO()
    np.savez(npz, images=np.zeros((2, 28, 28), dtype=np.uint8))
    npz.seek(0)
    npz.name = "arrays.npz"

    zip_batch = create(integrator, file=archive).json()
    npz_batch = create(integrator, file=npz).json()
    batch_run(batch_id=zip_batch["id"])

    results = BatchResult.objects.filter(batch_id=zip_batch["id"]).order_by("index")
    assert [(r.ref, r.digit) for r in results] == [("one.png", 1), ("seven.png", 7)]
    assert (npz_batch["input_format"], npz_batch["total"]) == ("npz", 2)


BAD_BATCHES = {
    "items not a list": ({"items": {"a": 1}}, 400, "invalid_items"),
    "no items": ({"items": []}, 400, "empty_batch"),
    "too many items": ({"items": [{}] * 10_001}, 400, "too_many_items"),
    "missing items": ({}, 400, "invalid"),
    "callback while disabled": (
        {"items": [{"pixels": [[1] * 28] * 28}], "callback_url": "https://example.org/hook"},
        400,
        "callbacks_disabled",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("body, status, code", BAD_BATCHES.values(), ids=BAD_BATCHES.keys())
def test_a_bad_batch_is_refused_and_stores_nothing(integrator, active_model, body, status, code):
    response = create(integrator, body)

    assert response.status_code == status
    assert response.json()["code"] == code
    assert not InferenceBatch.objects.exists()


@pytest.mark.django_db
def test_a_bad_upload_is_refused(integrator, active_model):
    wrong_dtype = npy_upload(np.zeros((2, 28, 28), dtype=np.float64))
    text = io.BytesIO(b"hello")
    text.name = "hello.txt"

    assert create(integrator, file=wrong_dtype).json()["code"] == "invalid_array"
    assert create(integrator, file=text).json()["code"] == "unsupported_format"
    assert not InferenceBatch.objects.exists()


@pytest.mark.django_db
def test_an_upload_over_the_limit_is_413(integrator, active_model, settings):
    settings.BATCH_MAX_UPLOAD_BYTES = 10_000

    response = create(integrator, file=npy_upload(np.zeros((50, 28, 28), dtype=np.uint8)))

    assert response.status_code == 413
    assert not InferenceBatch.objects.exists()


@pytest.mark.django_db
def test_batches_need_a_token_and_are_private(integrator, active_model, client, django_user_model):
    body = {"items": [{"pixels": [[1] * 28] * 28}]}
    batch_id = create(integrator, body).json()["id"]
    other = django_user_model.objects.create_user(username="other", password="x" * 12)
    stranger = HttpsClient(
        headers={"Authorization": f"Token {Token.objects.create(user=other).key}"}
    )

    assert create(client, body).status_code == 401
    assert client.get(f"{URL}{batch_id}/").status_code == 401
    assert stranger.get(f"{URL}{batch_id}/").status_code == 404
    assert stranger.get(f"{URL}{batch_id}/results/").status_code == 404
    assert stranger.post(f"{URL}{batch_id}/cancel/").status_code == 404
    assert stranger.get(URL).json()["count"] == 0
    assert integrator.get(URL).json()["count"] == 1


@pytest.mark.django_db
def test_without_an_active_model_a_batch_is_503(integrator, active_model):
    active_model.is_active = False
    active_model.save()

    response = create(integrator, {"items": [{"pixels": [[1] * 28] * 28}]})

    assert response.status_code == 503 and response.json()["code"] == "no_active_model"
    assert not InferenceBatch.objects.exists()


class Receiver(http.server.BaseHTTPRequestHandler):
    """A local callback endpoint that fails `failures` times, then says 204."""

    failures = 0
    bodies: list[dict] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if Receiver.failures > 0:
            Receiver.failures -= 1
            self.send_response(500)
        else:
            Receiver.bodies.append(body)
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    """On 127.0.0.1: private hosts must be allowed for it to be called."""
    settings.BATCH_CALLBACK_ALLOW_PRIVATE_HOSTS = True
    Receiver.failures, Receiver.bodies = 0, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


@pytest.mark.django_db
def test_the_callback_is_retried_then_delivered_once(integrator, active_model, settings, receiver):
    settings.BATCH_CALLBACKS_ENABLED = True
    settings.BATCH_CALLBACK_MAX_RETRIES = 3
    Receiver.failures = 2
    body = {"items": [{"pixels": [[1] * 28] * 28}], "callback_url": receiver}
    batch_id = create(integrator, body).json()["id"]
    batch_run(batch_id=batch_id)

    delivered = batch_callback_task.apply(args=[batch_id]).get()

    assert delivered is True
    assert len(Receiver.bodies) == 1
    assert Receiver.bodies[0]["id"] == batch_id and Receiver.bodies[0]["status"] == "succeeded"
    assert InferenceBatch.objects.get(pk=batch_id).callback_status == "delivered"


@pytest.mark.django_db
def test_a_callback_that_never_answers_is_given_up(integrator, active_model, settings, receiver):
    settings.BATCH_CALLBACKS_ENABLED = True
    settings.BATCH_CALLBACK_MAX_RETRIES = 1
    Receiver.failures = 10
    body = {"items": [{"pixels": [[1] * 28] * 28}], "callback_url": receiver}
    batch_id = create(integrator, body).json()["id"]
    batch_run(batch_id=batch_id)

    result = batch_callback_task.apply(args=[batch_id])

    assert result.failed() and isinstance(result.result, NotDelivered)
    assert Receiver.failures == 10 - 2  # tried once, retried once
    assert InferenceBatch.objects.get(pk=batch_id).callback_status == "failed"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:{port}/hook", "http://localhost:{port}/hook", "http://[::1]:{port}/hook",
     "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/x", "http://no-such-host.invalid/"],
)  # fmt: skip
def test_a_callback_to_a_non_public_host_is_never_sent(
    integrator, active_model, settings, receiver, url
):
    settings.BATCH_CALLBACKS_ENABLED = True
    settings.BATCH_CALLBACK_ALLOW_PRIVATE_HOSTS = False
    port = receiver.split(":")[2].split("/")[0]
    body = {"items": [{"pixels": [[1] * 28] * 28}], "callback_url": url.format(port=port)}
    batch_id = create(integrator, body).json()["id"]
    batch_run(batch_id=batch_id)

    assert batch_callback_task.apply(args=[batch_id]).get() is False

    assert Receiver.bodies == []
    assert InferenceBatch.objects.get(pk=batch_id).callback_status == "failed"


class Redirector(http.server.BaseHTTPRequestHandler):
    """POST: a 303 to `location`. GET (where a followed 303 goes): recorded."""

    location = ""
    followed: list[str] = []

    def do_POST(self):
        self.send_response(303)
        self.send_header("Location", Redirector.location)
        self.end_headers()

    def do_GET(self):
        Redirector.followed.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.django_db
def test_a_callback_redirect_is_not_followed(integrator, active_model, settings, receiver):
    settings.BATCH_CALLBACKS_ENABLED = True
    settings.BATCH_CALLBACK_MAX_RETRIES = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    Redirector.location, Redirector.followed = f"{url}/internal", []
    batch_id = create(integrator, {"items": [{"pixels": [[1] * 28] * 28}], "callback_url": url})
    batch_run(batch_id=batch_id.json()["id"])

    try:
        result = batch_callback_task.apply(args=[batch_id.json()["id"]])
    finally:
        server.shutdown()

    assert result.failed()
    assert Redirector.followed == []


@pytest.mark.django_db
def test_a_callback_must_be_http(integrator, active_model, settings):
    settings.BATCH_CALLBACKS_ENABLED = True

    response = create(
        integrator, {"items": [{"pixels": [[1] * 28] * 28}], "callback_url": "ftp://example.org/x"}
    )

    assert response.status_code == 400
    assert not InferenceBatch.objects.exists()


def test_batches_go_end_to_end_through_a_real_worker(
    start_celery_worker, active_model, mnist_cache, django_user_model, monkeypatch, settings
):
    """API -> broker -> `celery worker` process -> database, with the real
    model, for each kind of upload: npy, JSON items and a ZIP of PNGs."""
    queue = start_celery_worker(
        MODEL_STORE_DIR=str(settings.MODEL_STORE_DIR), MNIST_CACHE_DIR=str(mnist_cache)
    )
    # This test's worker listens on a queue of its own.
    send_tasks_to_queue(monkeypatch, queue)
    user = django_user_model.objects.create_user(username="integrator", password="x" * 12)
    client = HttpsClient(headers={"Authorization": f"Token {Token.objects.create(user=user).key}"})
    images, labels = mnist_digits(mnist_cache, 600)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("seven.png", canvas_png(SEVEN))
        writer.writestr("../escape.png", canvas_png(ONE))
    archive.seek(0)
    archive.name = "drawings.zip"
    items = [{"pixels": image.tolist(), "ref": f"mnist-{index}"} for index, image in
             enumerate(images[:20])] + [{"image": "%%%", "ref": "broken"}]  # fmt: skip

    npy_id = client.post(URL, {"file": npy_upload(images)}).json()["id"]
    json_id = client.post(URL, {"items": items}, content_type="application/json").json()["id"]
    zip_id = client.post(URL, {"file": archive}).json()["id"]

    def finished() -> bool:
        states = [client.get(f"{URL}{i}/").json()["status"] for i in (npy_id, json_id, zip_id)]
        return all(state in {"succeeded", "failed", "cancelled"} for state in states)

    assert wait_until(finished, timeout=120, interval=0.3)
    for batch_id in (npy_id, json_id, zip_id):
        assert client.get(f"{URL}{batch_id}/").json()["status"] == "succeeded"
    page = client.get(f"{URL}{npy_id}/results/?page=12").json()
    assert page["count"] == 600 and len(page["results"]) == 50
    digits = (
        BatchResult.objects.filter(batch_id=npy_id)
        .order_by("index")
        .values_list("digit", flat=True)
    )
    assert (np.array(list(digits)) == labels).mean() > 0.98
    json_results = client.get(f"{URL}{json_id}/results/").json()["results"]
    assert [row["ref"] for row in json_results][:2] == ["mnist-0", "mnist-1"]
    assert [row["digit"] for row in json_results[:20]] == labels[:20].tolist()
    assert json_results[20]["error"]["code"] == "invalid_base64"
    zip_results = client.get(f"{URL}{zip_id}/results/").json()["results"]
    assert [(row["ref"], row["digit"]) for row in zip_results] == [
        ("seven.png", 7), ("../escape.png", None),
    ]  # fmt: skip
    assert zip_results[1]["error"]["code"] == "invalid_name"
    assert Submission.objects.filter(source="batch").count() == 600 + 20 + 1


@pytest.mark.django_db(transaction=True)  # the message is sent on commit, as in production
def test_with_the_broker_down_a_batch_is_503_and_left_failed_not_queued(
    integrator, active_model, monkeypatch
):
    refuse_tasks(monkeypatch)

    response = create(integrator, {"items": [{"pixels": [[1] * 28] * 28}]})

    assert response.status_code == 503
    assert response.json()["code"] == "broker_unavailable"
    batch = InferenceBatch.objects.get()
    assert batch.status == "failed" and "broker" in batch.error
