"""The batch API (recognizer/api/batches.py): accepted with 202 before any inference,
refused with a 4xx and nothing stored, private to its owner, CSV results, the
broker down, and end to end through a real worker."""

import base64
import csv
import io
import zipfile

import numpy as np
import pytest
from rest_framework.authtoken.models import Token

from recognizer.models import BatchResult, InferenceBatch, Submission
from recognizer.services.batches import (
    batch_run,
)
from tests.broker import refuse_tasks, send_tasks_to_queue
from tests.conftest import HttpsClient, wait_until
from tests.harness.canvas import ONE, SEVEN, canvas_png
from tests.recognizer.batches.uploads import URL, create, mnist_digits, npy_upload


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
