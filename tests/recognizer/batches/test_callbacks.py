"""A finished batch's callback (recognizer/tasks.py, recognizer/callbacks.py):
retried then delivered once, given up, never sent to a non-public host or
through a redirect."""

import http.server
import json
import threading

import pytest

from recognizer.models import InferenceBatch
from recognizer.services.batches import (
    batch_run,
)
from recognizer.tasks import NotDelivered, batch_callback_task
from tests.recognizer.batches.uploads import create


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
