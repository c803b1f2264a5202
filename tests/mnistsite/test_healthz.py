import socket
import threading
import time
from collections.abc import Iterator

import pytest
from django.db import OperationalError

from recognizer import predictor as predictor_module
from recognizer.predictor import load_model
from tests.harness.processes import free_port
from training.models import ModelVersion

pytestmark = pytest.mark.django_db

REDIS_OPTIONS = {"visibility_timeout": 3600}


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word: a hung Redis."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def _get(client):
    started = time.monotonic()
    response = client.get("/healthz")
    return response, time.monotonic() - started


def test_healthz_is_200_with_database_and_broker_up_and_no_model_yet(client):
    response, _ = _get(client)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["model"] == {
        "active_version": None,
        "detail": "no model version is active yet",
    }
    assert "no-cache" in response["Cache-Control"]


def test_healthz_names_the_active_model_version(client):
    ModelVersion.objects.create(version=3, architecture="cnn", is_active=True, test_accuracy=0.99)

    body = client.get("/healthz").json()

    assert body["checks"]["model"] == {"active_version": 3, "test_accuracy": 0.99, "serving": None}


def test_healthz_says_which_version_this_process_serves(client, active_model):
    body = {"pixels": [[0] * 28] * 10 + [[0] * 12 + [255] * 4 + [0] * 12] * 8 + [[0] * 28] * 10}
    client.post("/api/v1/predictions/", body, content_type="application/json")

    assert client.get("/healthz").json()["checks"]["model"]["serving"] == active_model.version


def test_healthz_says_why_the_active_version_is_not_served(
    client, active_model, settings, monkeypatch
):
    # This process loads for real (no model kept from other tests), and the file is corrupt.
    monkeypatch.setattr(predictor_module, "load_model", load_model)
    monkeypatch.setattr(predictor_module, "_by_sha", {})
    (settings.MODEL_STORE_DIR / active_model.artifact_path).write_bytes(b"corrupt")
    body = {"pixels": [[0] * 28] * 10 + [[0] * 12 + [255] * 4 + [0] * 12] * 8 + [[0] * 28] * 10}

    answer = client.post("/api/v1/predictions/", body, content_type="application/json")
    model = client.get("/healthz").json()["checks"]["model"]

    assert answer.status_code == 503
    assert model["serving"] is None
    assert model["load_error"] == (
        f"v{active_model.version} could not be loaded: "
        "its model file is missing or not the registered one"
    )


def test_healthz_is_503_within_2_seconds_when_redis_refuses(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = REDIS_OPTIONS

    response, elapsed = _get(client)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["transport"] == "redis"
    assert body["checks"]["database"]["ok"] is True
    assert elapsed < 2.0


def test_healthz_is_503_within_2_seconds_when_redis_hangs(client, settings, silent_server):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{silent_server}/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = REDIS_OPTIONS

    response, elapsed = _get(client)

    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False
    assert elapsed < 2.0


def test_healthz_never_shows_the_broker_password(client, settings):
    settings.CELERY_BROKER_URL = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = REDIS_OPTIONS

    response = client.get("/healthz")

    assert b"hunter2-secret" not in response.content
    assert b"127.0.0.1" not in response.content


def test_healthz_is_503_when_the_database_fails(client, monkeypatch):
    def refuse() -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr("mnistsite.health._ping_database", refuse)

    response = client.get("/healthz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == {
        "ok": False,
        "error": "not answering (OperationalError)",
        "engine": checks["database"]["engine"],
    }
    assert checks["model"]["active_version"] is None
    assert checks["model"]["detail"].startswith("unknown")


def test_healthz_is_503_within_2_seconds_when_the_database_hangs(client, monkeypatch):
    monkeypatch.setattr("mnistsite.health._ping_database", lambda: time.sleep(5))

    response, elapsed = _get(client)

    assert response.status_code == 503
    assert "no answer within" in response.json()["checks"]["database"]["error"]
    assert elapsed < 2.0


def test_healthz_is_503_when_the_filesystem_broker_folder_is_gone(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://localhost/"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_out": str(tmp_path / "missing")}

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["transport"] == "filesystem"


def test_healthz_answers_head_and_refuses_post(client):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405
