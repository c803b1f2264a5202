"""POST /api/v1/predictions/ with the real bundled model: what is accepted,
what is answered, and that every 201 is exactly one stored submission."""

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image
from rest_framework.renderers import JSONRenderer

from recognizer.models import Submission
from recognizer.serializers import PredictionSerializer, PreviewSerializer
from recognizer.services.submission_images import seen_image
from recognizer.submission_store import image_read
from tests.harness.canvas import ONE, SEVEN, canvas_png

pytestmark = pytest.mark.django_db

URL = "/api/v1/predictions/"


def as_base64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def set_rates(settings, **rates: str) -> None:
    """Throttle rates for this test (read from settings at each request)."""
    current = settings.REST_FRAMEWORK
    settings.REST_FRAMEWORK = {
        **current,
        "DEFAULT_THROTTLE_RATES": {**current["DEFAULT_THROTTLE_RATES"], **rates},
    }


def post_json(client, body, query: str = ""):
    return client.post(URL + query, body, content_type="application/json")


def test_a_drawn_one_is_recognised_and_stored(client, active_model):
    response = post_json(client, {"image": as_base64(canvas_png(ONE))})

    assert response.status_code == 201, response.json()
    answer = response.json()
    assert answer["digit"] == 1
    assert answer["model_version"] == 1
    assert len(answer["probabilities"]) == 10
    assert abs(sum(answer["probabilities"]) - 1) < 1e-3
    assert answer["confidence"] == max(answer["probabilities"])
    assert {"id", "created_at"} <= answer.keys()
    assert "preprocessed" not in answer  # only when asked for
    stored = Submission.objects.get()
    assert stored.pk == answer["id"]
    assert stored.digit == 1 and stored.source == "api"
    assert stored.model_version == active_model
    assert image_read(stored.image.name) == canvas_png(ONE) and stored.image_format == "PNG"
    assert seen_image(stored.preprocessed.name).shape == (28, 28)
    assert stored.latency_ms > 0
    assert stored.user is None and stored.session_hash == ""


def test_a_data_url_works_like_plain_base64(client, active_model):
    response = post_json(client, {"image": "data:image/png;base64," + as_base64(canvas_png(SEVEN))})

    assert response.status_code == 201
    assert response.json()["digit"] == 7


def test_a_multipart_upload_works(client, active_model):
    upload = io.BytesIO(canvas_png(SEVEN))
    upload.name = "seven.png"

    response = client.post(URL, {"image": upload})

    assert response.status_code == 201, response.json()
    assert response.json()["digit"] == 7


def test_a_jpeg_and_a_webp_are_accepted(client, active_model):
    image = Image.open(io.BytesIO(canvas_png(ONE))).convert("RGB")  # JPEG has no alpha
    for image_format in ("JPEG", "WEBP"):
        buffer = io.BytesIO()
        image.save(buffer, format=image_format)
        response = post_json(client, {"image": as_base64(buffer.getvalue())})
        assert response.status_code == 201, response.json()
        assert response.json()["digit"] == 1
    assert list(Submission.objects.values_list("image_format", flat=True)) == ["WEBP", "JPEG"]


def test_a_pixel_array_of_a_real_mnist_digit_is_recognised(client, active_model, mnist_cache):
    from training.ml.datasets import load_mnist

    mnist = load_mnist(mnist_cache)
    for index in range(5):
        response = post_json(client, {"pixels": mnist.x_test[index].tolist()})
        assert response.status_code == 201
        assert response.json()["digit"] == mnist.y_test[index]
    assert Submission.objects.filter(image_format="pixels").count() == 5


def test_include_preprocessed_returns_the_28x28_the_model_saw(client, active_model):
    response = post_json(client, {"image": as_base64(canvas_png(ONE))}, "?include=preprocessed")

    rows = response.json()["preprocessed"]
    assert len(rows) == 28 and all(len(row) == 28 for row in rows)
    stored = seen_image(Submission.objects.get().preprocessed.name)
    assert np.array_equal(np.array(rows, dtype=np.uint8), stored)
    ink_columns = np.nonzero(np.array(rows).sum(axis=0))[0]
    assert 12 <= ink_columns.mean() <= 16  # centred


def test_a_preview_answers_without_storing(client, active_model):
    response = post_json(
        client, {"image": as_base64(canvas_png(ONE))}, "?preview=true&include=preprocessed"
    )

    assert response.status_code == 200
    answer = response.json()
    assert answer["digit"] == 1 and "id" not in answer and len(answer["preprocessed"]) == 28
    assert not Submission.objects.exists()


@pytest.mark.parametrize("query", ["", "?include=preprocessed"])
def test_the_answers_are_what_the_documented_serializers_give(client, active_model, query):
    body = {"image": as_base64(canvas_png(SEVEN))}
    stored = post_json(client, body, query).json()
    preview = post_json(client, body, query + ("&" if query else "?") + "preview=true").json()

    submission = Submission.objects.get()
    context = {"model_version": active_model.version}
    if query:
        context["preprocessed"] = stored["preprocessed"]
    expected = PredictionSerializer(submission, context=context).data
    assert stored == json.loads(JSONRenderer().render(expected))
    expected_preview = PreviewSerializer(
        {**{k: stored[k] for k in ("digit", "confidence", "probabilities", "model_version")}},
        context=context,
    ).data
    assert preview == json.loads(JSONRenderer().render(expected_preview))


def test_without_an_active_model_predictions_answer_503(client, active_model):
    active_model.is_active = False
    active_model.save()

    response = post_json(client, {"image": as_base64(canvas_png(ONE))})

    assert response.status_code == 503
    assert response.json()["code"] == "no_active_model"
    assert not Submission.objects.exists()


def test_the_page_visitor_s_predictions_are_stored_as_web_and_theirs(client, active_model):
    client.get("/")  # starts the visitor's session

    response = post_json(client, {"image": as_base64(canvas_png(ONE))})

    stored = Submission.objects.get(pk=response.json()["id"])
    assert stored.source == "web"
    assert len(stored.session_hash) == 64
    assert client.session.session_key not in stored.session_hash


def test_a_token_user_s_prediction_is_theirs(client, active_model, django_user_model):
    from rest_framework.authtoken.models import Token

    user = django_user_model.objects.create_user(username="integrator", password="x" * 12)
    token = Token.objects.create(user=user)

    response = client.post(
        URL,
        {"image": as_base64(canvas_png(ONE))},
        content_type="application/json",
        headers={"Authorization": f"Token {token.key}"},
    )

    assert response.status_code == 201
    stored = Submission.objects.get()
    assert stored.user == user and stored.source == "api"


def test_the_page_session_needs_its_csrf_token(active_model):
    from tests.conftest import HttpsClient

    browser = HttpsClient(enforce_csrf_checks=True)
    page = browser.get("/")
    body = {"image": as_base64(canvas_png(ONE))}

    refused = browser.post(URL, body, content_type="application/json")
    accepted = browser.post(
        URL,
        body,
        content_type="application/json",
        # Over HTTPS Django also checks that the request comes from this site.
        headers={"X-CSRFToken": page.cookies["csrftoken"].value, "Origin": "https://testserver"},
    )

    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert "CSRF" in refused.json()["message"]
    assert accepted.status_code == 201
    assert Submission.objects.count() == 1


def test_anonymous_predictions_are_throttled_per_client(client, active_model, settings):
    set_rates(settings, anon="2/min")
    body = {"image": as_base64(canvas_png(ONE))}

    statuses = [post_json(client, body).status_code for _ in range(3)]
    throttled = post_json(client, body)
    other_client = client.post(URL, body, content_type="application/json", REMOTE_ADDR="10.0.0.9")

    assert statuses == [201, 201, 429]
    assert throttled.json()["code"] == "throttled"
    assert 1 <= int(throttled["Retry-After"]) <= 60
    assert other_client.status_code == 201
    assert Submission.objects.count() == 3


def test_a_forged_forwarded_for_header_does_not_escape_the_throttle(client, active_model, settings):
    set_rates(settings, anon="1/min")
    body = {"image": as_base64(canvas_png(ONE))}

    first = post_json(client, body)
    forged = client.post(
        URL, body, content_type="application/json", headers={"X-Forwarded-For": "203.0.113.7"}
    )

    assert (first.status_code, forged.status_code) == (201, 429)


def test_staff_are_not_throttled(client, active_model, settings, admin_user):
    set_rates(settings, anon="1/min", user="1/min")
    client.force_login(admin_user)
    body = {"image": as_base64(canvas_png(ONE))}

    assert [post_json(client, body).status_code for _ in range(3)] == [201] * 3


def test_a_prediction_costs_one_insert_and_no_other_query(
    client, active_model, django_assert_num_queries, settings
):
    settings.PREDICTOR_REFRESH_SECONDS = 60  # the active version is looked up twice a second
    body = {"image": as_base64(canvas_png(ONE))}
    post_json(client, body)  # the first request looks it up and loads the model

    with django_assert_num_queries(1):
        response = post_json(client, body)

    assert response.status_code == 201 and response.json()["model_version"] == 1
