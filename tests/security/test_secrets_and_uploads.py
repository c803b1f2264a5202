"""Secrets stay secret and uploads stay inert. The secret key, the database
and broker passwords and API tokens appear in no answer and no log record
of a failing request (500, 404, 400, 401, 403, a failing health check).
An uploaded file is never served back as it came: stored drawings are
served only to staff, re-encoded as PNG with `nosniff`; no answer of the API
carries the bytes of an upload."""

import base64
import io
import logging

import pytest
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token

from recognizer.models import Submission
from recognizer.services.batches import batch_run
from recognizer.submission_store import image_read
from tests.conftest import HttpsClient
from tests.figures import record
from tests.security.hostile_cases import INK, PNG
from tests.security.payloads import npy_with_header, png_with_chunk, zip_of

pytestmark = pytest.mark.django_db

DATABASE_PASSWORD = "db-pass-Xq7-never-shown"
BROKER_PASSWORD = "broker-pass-Kz3-never-shown"
MARKER = b"UPLOAD-MARKER-7f3a9c"
PNG_SIGNATURE_BASE64 = b"iVBORw0KGgo"  # how any PNG starts, in base64
TALLY = {"answers": 0, "log_records": 0, "uploads_sent": 0}


class BrowserClient(Client):
    """Answers as a browser gets them over HTTPS, server errors too (and
    not checked against the API schema, which has no 500)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(raise_request_exception=False, **kwargs)

    def generic(self, *args, **kwargs):
        kwargs["secure"] = True
        return super().generic(*args, **kwargs)


@pytest.fixture
def secrets(settings, monkeypatch, django_user_model, active_model) -> dict:
    """A database and a broker with passwords, a staff token and a user token."""
    # The same dict as settings.DATABASES["default"]; the server trusts local
    # connections, so the open connection does not mind.
    monkeypatch.setitem(connection.settings_dict, "PASSWORD", DATABASE_PASSWORD)
    # No Redis answers here: the health check fails, with the password in its URL.
    settings.CELERY_BROKER_URL = f"redis://:{BROKER_PASSWORD}@127.0.0.1:1/0"
    staff = django_user_model.objects.create_user(
        username="staff", is_staff=True, is_superuser=True
    )
    user = django_user_model.objects.create_user(username="integrator")
    return {
        "secret key": settings.SECRET_KEY,
        "database password": DATABASE_PASSWORD,
        "broker password": BROKER_PASSWORD,
        "staff token": Token.objects.create(user=staff).key,
        "user token": Token.objects.create(user=user).key,
    }


def failing_requests(secrets: dict) -> dict:
    staff = {"HTTP_AUTHORIZATION": f"Token {secrets['staff token']}"}
    user = {"HTTP_AUTHORIZATION": f"Token {secrets['user token']}"}
    client = BrowserClient()
    return {
        "500 in the API": lambda: client.post(
            "/api/v1/predictions/", {"pixels": INK}, content_type="application/json", **user
        ),
        "404 page": lambda: client.get("/no/such/page/", **user),
        "404 in the API": lambda: client.get("/api/v1/batches/999999/", **staff),
        "400 for a wrong host": lambda: client.get("/", HTTP_HOST="evil.example", **staff),
        "400 in the API": lambda: client.post(
            "/api/v1/training-jobs/", {"preset": "?"}, content_type="application/json", **staff
        ),
        "401 for a wrong token": lambda: client.get(
            "/api/v1/batches/", HTTP_AUTHORIZATION=f"Token {secrets['user token']}x"
        ),
        "403 for a user token on a staff route": lambda: client.get(
            "/api/v1/training-jobs/", **user
        ),
        "403 CSRF page": lambda: BrowserClient(enforce_csrf_checks=True).post("/admin/login/"),
        "503 health check": lambda: client.get("/healthz"),
    }


def test_no_secret_is_in_an_answer_or_a_log_record_of_a_failing_request(
    secrets, monkeypatch, caplog
):
    def fail(*args, **kwargs):
        raise RuntimeError("an unexpected failure")

    monkeypatch.setattr("recognizer.api.predictions.predict", fail)
    caplog.set_level(logging.DEBUG)
    answers = {name: send() for name, send in failing_requests(secrets).items()}

    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        "500 in the API": 500, "404 page": 404, "404 in the API": 404,
        "400 for a wrong host": 400, "400 in the API": 400, "401 for a wrong token": 401,
        "403 for a user token on a staff route": 403, "403 CSRF page": 403,
        "503 health check": 503,
    }  # fmt: skip
    texts = {f"answer: {name}": answer.content.decode() for name, answer in answers.items()}
    texts |= {
        f"log {index}: {record.name}": everything_in(record)
        for index, record in enumerate(caplog.records)
    }
    assert any("an unexpected failure" in text for text in texts.values())  # the logs are here
    leaks = [(where, what) for where, text in texts.items() for what, secret in secrets.items()
             if secret in text]  # fmt: skip
    assert leaks == []
    TALLY["answers"] += len(answers)
    TALLY["log_records"] += len(caplog.records)


def everything_in(record: logging.LogRecord) -> str:
    """The formatted record, its traceback and every attribute (the request too)."""
    formatted = logging.Formatter().format(record)
    return formatted + " ".join(repr(value) for value in vars(record).values())


def png_polyglot() -> bytes:
    """A valid drawing that is also HTML: a script in a text chunk and after
    the end of the image."""
    script = b"<html><script>alert(1)</script>" + MARKER
    return png_with_chunk(PNG, b"tEXt", b"Comment\x00" + script) + script


@pytest.fixture
def stored_polyglot(active_model) -> Submission:
    upload = io.BytesIO(png_polyglot())
    upload.name = "drawing.html"
    response = HttpsClient().post("/api/v1/predictions/", {"image": upload})
    assert response.status_code == 201, response.json()
    submission = Submission.objects.get()
    assert MARKER in image_read(submission.image.name)  # stored as it came
    return submission


IMAGE_URLS = ["original.png", "original.png?size=large", "seen.png"]


def test_a_stored_upload_is_served_to_staff_only_as_a_re_encoded_png(stored_polyglot, admin_user):
    staff = HttpsClient()
    staff.force_login(admin_user)

    for name in IMAGE_URLS:
        response = staff.get(f"/admin/recognizer/submission/{stored_polyglot.pk}/image/{name}")

        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert MARKER not in response.content and b"<script" not in response.content


@pytest.mark.parametrize("who", ["anonymous", "a logged-in non-staff user", "a user's API token"])
def test_nobody_but_staff_gets_a_stored_upload(stored_polyglot, django_user_model, who):
    user = django_user_model.objects.create_user(username="someone")
    client = HttpsClient()
    if who == "a logged-in non-staff user":
        client.force_login(user)
    if who == "a user's API token":
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=user)}"

    for name in IMAGE_URLS:
        response = client.get(f"/admin/recognizer/submission/{stored_polyglot.pk}/image/{name}")

        assert response.status_code == 302 and "/admin/login/" in response["Location"]
        assert not response.content.startswith(b"\x89PNG") and MARKER not in response.content


def upload(name: str, data: bytes) -> io.BytesIO:
    file = io.BytesIO(data)
    file.name = name
    return file


def test_stored_uploads_are_never_served_as_media(active_model, admin_user, settings):
    client = HttpsClient(
        headers={"Authorization": f"Token {Token.objects.create(user=admin_user)}"}
    )
    client.post("/api/v1/predictions/", {"image": upload("drawing.html", png_polyglot())})
    batch = client.post("/api/v1/batches/", {"file": upload("a.zip", zip_of({"a.png": PNG}))})
    batch_run(batch_id=batch.json()["id"])
    keys = [key for row in Submission.objects.values_list("image", "preprocessed") for key in row]

    responses = [HttpsClient().get(f"/media/{key}") for key in [*keys, "drawing.html"]]

    assert len(keys) == 4 and all((settings.MEDIA_ROOT / key).is_file() for key in keys)
    assert [response.status_code for response in responses] == [404] * 5
    assert not any(MARKER in response.content for response in responses)


PREDICTION, PREVIEW, BATCH = (
    "/api/v1/predictions/",
    "/api/v1/predictions/?preview=true&include=preprocessed",
    "/api/v1/batches/",
)
BROKEN_HEADER = "{'descr': '|u1', 'x': '%s' (((" % MARKER.decode()  # noqa: UP031


def uploads_with_the_marker() -> dict[str, tuple[str, str, io.BytesIO]]:
    polyglot, text = png_polyglot(), MARKER * 10
    archive = zip_of({"a.png": polyglot, "b.png": MARKER})
    return {
        "text": (PREDICTION, "image", upload("a.png", text)),
        "a truncated polyglot": (PREDICTION, "image", upload("a.png", polyglot[:900] + MARKER)),
        "a polyglot": (PREDICTION, "image", upload("a.png", polyglot)),
        "a polyglot, previewed": (PREVIEW, "image", upload("a.png", polyglot)),
        "a broken npy header": (BATCH, "file", upload("a.npy", npy_with_header(BROKEN_HEADER))),
        "a zip": (BATCH, "file", upload("a.zip", archive)),
        "text named .npy": (BATCH, "file", upload("a.npy", text)),
    }


def test_no_answer_of_the_api_carries_the_bytes_of_an_upload(active_model, admin_user):
    client = HttpsClient(
        headers={"Authorization": f"Token {Token.objects.create(user=admin_user)}"}
    )
    uploads = uploads_with_the_marker()
    answers = [client.post(path, {field: file}) for path, field, file in uploads.values()]
    image = base64.b64encode(png_polyglot()).decode()
    answers.append(client.post(PREDICTION, {"image": image}, content_type="application/json"))
    batch_id = next(answer.json()["id"] for answer in answers if answer.status_code == 202)
    batch_run(batch_id=batch_id)
    answers += [
        client.get(PREDICTION),
        client.get(f"{BATCH}{batch_id}/results/"),
        client.get(f"{BATCH}{batch_id}/results/?format=csv"),
    ]

    assert sorted({answer.status_code for answer in answers}) == [200, 201, 202, 400]
    for answer in answers:
        content = answer.content if not answer.streaming else b"".join(answer.streaming_content)
        assert MARKER not in content and PNG_SIGNATURE_BASE64 not in content
        assert not any(
            base64.b64encode(b"x" * shift + MARKER)[4:20] in content for shift in range(3)
        )
    TALLY["uploads_sent"] += len(uploads) + 1
    TALLY["answers"] += len(answers)


def test_the_secrets_and_uploads_figure_is_recorded():
    assert TALLY["uploads_sent"] and TALLY["log_records"], "run the whole module"
    record(
        "security-2",
        title="Secrets in answers and logs; uploads served back",
        command="make test ARGS='tests/security/test_secrets_and_uploads.py'",
        outcome="0 secrets in answers or log records of failing requests; stored uploads "
        "served to staff only, as re-encoded PNG with nosniff; 0 upload bytes echoed",
        answers_checked=TALLY["answers"],
        log_records_checked=TALLY["log_records"],
        uploads_with_a_marker=TALLY["uploads_sent"],
        secrets_leaked=0,
    )
