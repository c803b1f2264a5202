"""Hostile input to every part of the API that reads input, through the real
views (the requests are tabled in hostile_cases.py): broken, huge, nested,
pickled and zipped bodies, and hostile text in every text field, query
parameter, id and header. Each is a 4xx with the JSON error shape, never a
5xx, and stores no row.

A batch whose container is sound but whose items are hostile (a ZIP bomb,
names that climb out of the folder) is accepted by design and each item
fails on its own: those are run by the worker here and shown to write no
file, store no prediction and fail no batch.

The last test checks that every input was really sent and records the tally.
"""

import io
import json
from collections import Counter

import numpy as np
import pytest
from django.http import HttpResponse
from rest_framework.authtoken.models import Token

from recognizer.models import BatchResult, InferenceBatch, Submission
from recognizer.services.batches import batch_run
from tests.conftest import HttpsClient
from tests.figures import record
from tests.security import payloads as hostile
from tests.security.hostile_cases import (
    BATCH_INPUTS,
    BATCHES,
    ESCAPING_NAMES,
    GROUPS,
    INK,
    PICKLES,
    PNG,
    PREDICTION_INPUTS,
    PREDICTIONS,
    TEXT_INPUTS,
    ZIP_BOMBS,
    Hostile,
    batch,
)
from training.models import LabelledSample, ModelActivation, ModelVersion, TrainingJob

pytestmark = pytest.mark.django_db

ROWS = (Submission, InferenceBatch, BatchResult, TrainingJob, LabelledSample, ModelActivation,
        ModelVersion)  # fmt: skip
# What each input got: group -> name -> (status, rows stored).
SENT: dict[str, dict[str, tuple[int, int]]] = {key: {} for key in GROUPS}
# Batches accepted by design: name -> how many of their items the worker refused.
ACCEPTED: dict[str, int] = {}


@pytest.fixture
def world(active_model, django_user_model) -> dict:
    """Clients (anonymous, an integrator's token, a staff token), a
    prediction, a batch and a training job."""
    integrator = django_user_model.objects.create_user(username="integrator")
    staff = django_user_model.objects.create_user(
        username="staff", is_staff=True, is_superuser=True
    )
    clients = {
        "anonymous": HttpsClient(),
        "token": token_client(integrator),
        "staff": token_client(staff),
    }
    prediction = clients["token"].post(
        PREDICTIONS, {"pixels": INK}, content_type="application/json"
    )
    batch_id = InferenceBatch.objects.create(
        created_by=integrator, model_version=active_model, input_format="json", payload=b"[]",
        total=1,
    ).pk  # fmt: skip
    job = TrainingJob.objects.create(preset="quick", params={})
    ids = {"prediction": prediction.json()["id"], "batch": batch_id, "job": job.pk}
    return {"clients": clients, "ids": ids}


def token_client(user) -> HttpsClient:
    return HttpsClient(headers={"Authorization": f"Token {Token.objects.create(user=user)}"})


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in ROWS}


def send(world: dict, case: Hostile) -> HttpResponse:
    client = world["clients"][case.who]
    path = case.path.format(**world["ids"])
    if case.upload is not None:
        name, data = case.upload
        upload = io.BytesIO(data)
        upload.name = name
        upload_field = case.upload_field or ("image" if path.startswith(PREDICTIONS) else "file")
        return client.post(path, {upload_field: upload, **case.form}, **case.meta)
    if case.method == "get":
        return client.get(path, **case.meta)
    body = case.body if isinstance(case.body, bytes) else json.dumps(case.body)
    return client.generic("POST", path, body, content_type=case.content_type, **case.meta)


def send_and_tally(key: str, name: str, world: dict, case: Hostile) -> HttpResponse:
    before = row_counts()
    response = send(world, case)
    after = row_counts()
    SENT[key][name] = (response.status_code, sum(after.values()) - sum(before.values()))
    assert after == before, f"rows stored: {before} -> {after}"
    return response


def assert_refused(response: HttpResponse, case: Hostile) -> None:
    assert 400 <= response.status_code < 500
    error = response.json()
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["details"], dict), error
    assert (response.status_code, error["code"]) == (case.status, case.code), error


def check(key: str, name: str, world: dict, settings) -> None:
    case = GROUPS[key][1][name]
    for setting, value in case.settings.items():
        setattr(settings, setting, value)
    assert_refused(send_and_tally(key, name, world, case), case)


@pytest.mark.parametrize("name", PREDICTION_INPUTS)
def test_a_hostile_prediction_input_is_a_4xx_that_stores_nothing(world, settings, name):
    check("hostile-1", name, world, settings)


@pytest.mark.parametrize("name", BATCH_INPUTS)
def test_a_hostile_batch_upload_is_a_4xx_that_stores_nothing(world, settings, name):
    check("hostile-2", name, world, settings)


@pytest.mark.parametrize("name", TEXT_INPUTS)
def test_hostile_text_is_a_4xx_that_stores_nothing(world, settings, name):
    check("hostile-3", name, world, settings)


@pytest.mark.parametrize("name", PICKLES)
def test_an_uploaded_array_is_never_unpickled(world, tmp_path, name):
    file_name, build = PICKLES[name]
    marker = tmp_path / "unpickled"
    payload = build(marker)
    _unpickle(payload, file_name)
    assert marker.exists(), "the payload writes the file when unpickled"
    marker.unlink()
    case = batch(400, "invalid_array", upload=(file_name, payload))

    assert_refused(send_and_tally("hostile-2", name, world, case), case)

    assert not marker.exists()


def _unpickle(payload: bytes, file_name: str) -> None:
    loaded = np.load(io.BytesIO(payload), allow_pickle=True)
    if file_name.endswith(".npz"):
        loaded = loaded[loaded.files[0]]
    loaded.tolist()


def accept_and_run(world: dict, name: str, payload: bytes) -> list[BatchResult]:
    """Send a sound ZIP of hostile items; run it as the worker does."""
    upload = io.BytesIO(payload)
    upload.name = "batch.zip"
    response = world["clients"]["token"].post(BATCHES, {"file": upload})
    SENT["hostile-2"][name] = (response.status_code, 0)
    assert response.status_code == 202, response.json()
    batch_id = response.json()["id"]
    assert batch_run(batch_id=batch_id) == "succeeded"
    results = list(BatchResult.objects.filter(batch_id=batch_id).order_by("index"))
    ACCEPTED[name] = sum(result.error_code != "" for result in results)
    return results


@pytest.mark.parametrize("name", ZIP_BOMBS)
def test_a_zip_bomb_member_is_refused_by_the_worker_without_inflating_it(world, name):
    payload = hostile.zip_bomb(50_000_000, **ZIP_BOMBS[name])
    assert len(payload) < 100_000

    (result,) = accept_and_run(world, name, payload)

    assert result.error_code in {"too_large", "corrupt"}
    assert not Submission.objects.filter(source="batch").exists()


def test_zip_names_that_climb_out_of_the_folder_write_nothing(
    world, tmp_path, monkeypatch, settings
):
    """Run from root/a/b with media under root: a name used as a path would
    put a file in root."""
    root = tmp_path / "escape"
    (root / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(root / "a" / "b")
    settings.MEDIA_ROOT = root / "media"
    names = ["../../escaped.png", str(root / "absolute.png"), "..\\..\\escaped-too.png",
             "./../../escaped-again.png", "../media/../escaped-via-media.png"]  # fmt: skip

    results = accept_and_run(world, ESCAPING_NAMES, hostile.zip_of(dict.fromkeys(names, PNG)))

    assert [result.error_code for result in results] == ["invalid_name"] * len(names)
    assert not Submission.objects.filter(source="batch").exists()
    assert sorted(str(path.relative_to(root)) for path in root.rglob("*")) == ["a", "a/b"]


def test_every_input_was_sent_and_the_tally_is_recorded():
    expected = {
        "hostile-1": set(PREDICTION_INPUTS),
        "hostile-2": {*BATCH_INPUTS, *PICKLES, *ZIP_BOMBS, ESCAPING_NAMES},
        "hostile-3": set(TEXT_INPUTS),
    }
    for key, (title, _) in GROUPS.items():
        sent = SENT[key]
        assert set(sent) == expected[key], "every input is sent (run the whole module)"
        server_errors = sum(status >= 500 for status, _ in sent.values())
        rows_stored = sum(rows for _, rows in sent.values())
        refused = sum(400 <= status < 500 for status, _ in sent.values())
        accepted = {name: items for name, items in ACCEPTED.items() if name in sent}
        assert server_errors == 0 and rows_stored == 0
        assert refused + len(accepted) == len(sent)
        outcome = f"{len(sent)} inputs tried: {refused} refused with a 4xx, {server_errors} 5xx, "
        outcome += f"{rows_stored} rows stored"
        if accepted:
            outcome += (
                f"; {len(accepted)} sound ZIPs of hostile items accepted by design, all "
                f"{sum(accepted.values())} items refused by the worker, no file written"
            )
        by_status = Counter(status for status, _ in sent.values())
        record(
            key,
            title=title,
            command="make test ARGS='tests/security/test_hostile_inputs.py'",
            outcome=outcome,
            inputs_tried=len(sent),
            refused_4xx=refused,
            server_errors=server_errors,
            rows_stored=rows_stored,
            **{f"answered_{status}": count for status, count in sorted(by_status.items())},
        )
