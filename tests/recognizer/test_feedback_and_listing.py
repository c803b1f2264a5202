"""Feedback on a prediction (it becomes a training sample) and the listing of
stored predictions, with who may do which."""

import base64

import numpy as np
import pytest
from rest_framework.authtoken.models import Token

from recognizer.models import Submission
from recognizer.services.submission_images import seen_image
from tests.conftest import HttpsClient
from tests.harness.canvas import ONE, SEVEN, canvas_png
from training.models import LabelledSample
from training.selectors import labelled_samples_for_training

pytestmark = pytest.mark.django_db

URL = "/api/v1/predictions/"


def predict(client, strokes=ONE, **extra) -> dict:
    image = base64.b64encode(canvas_png(strokes)).decode()
    response = client.post(URL, {"image": image}, content_type="application/json", **extra)
    assert response.status_code == 201, response.json()
    return response.json()


def feedback(client, prediction_id: int, label, **extra):
    return client.post(
        f"{URL}{prediction_id}/feedback/",
        {"label": label},
        content_type="application/json",
        **extra,
    )


@pytest.fixture
def visitor(active_model) -> HttpsClient:
    visitor = HttpsClient()
    visitor.get("/")
    return visitor


def token_client(django_user_model, username: str, *, staff: bool = False) -> HttpsClient:
    user = django_user_model.objects.create_user(
        username=username, password="x" * 12, is_staff=staff
    )
    token = Token.objects.create(user=user)
    return HttpsClient(headers={"Authorization": f"Token {token.key}"})


def test_feedback_stores_the_label_and_hands_the_sample_to_training(visitor):
    prediction = predict(visitor, SEVEN)

    response = feedback(visitor, prediction["id"], 7)

    assert response.status_code == 200
    assert response.json()["feedback_label"] == 7 and response.json()["is_correct"] is True
    submission = Submission.objects.get()
    assert submission.feedback_label == 7 and submission.feedback_at is not None
    sample = submission.labelled_sample
    assert sample.label == 7 and sample.source == "feedback"
    assert bytes(sample.image) == seen_image(submission.preprocessed.name).tobytes()
    images, labels = labelled_samples_for_training()
    assert labels.tolist() == [7] and images.shape == (1, 28, 28)


def test_changing_the_answer_relabels_the_same_sample(visitor):
    prediction = predict(visitor, ONE)

    feedback(visitor, prediction["id"], 1)
    response = feedback(visitor, prediction["id"], 4)

    assert response.json()["feedback_label"] == 4 and response.json()["is_correct"] is False
    assert LabelledSample.objects.get().label == 4


def test_another_visitor_cannot_give_feedback(visitor, active_model):
    prediction = predict(visitor)
    stranger = HttpsClient()
    stranger.get("/")

    response = feedback(stranger, prediction["id"], 3)

    assert response.status_code == 403
    assert response.json()["code"] == "not_your_prediction"
    assert Submission.objects.get().feedback_label is None
    assert not LabelledSample.objects.exists()


def test_a_cookie_less_prediction_takes_feedback_only_from_staff(client, active_model, admin_user):
    prediction = predict(client)

    anonymous = feedback(client, prediction["id"], 1)
    client.force_login(admin_user)
    staff = feedback(client, prediction["id"], 1)

    assert anonymous.status_code == 403
    assert staff.status_code == 200
    assert Submission.objects.get().feedback_by == admin_user


def test_a_token_user_gives_feedback_on_their_own_predictions(django_user_model, active_model):
    owner = token_client(django_user_model, "owner")
    other = token_client(django_user_model, "other")
    prediction = predict(owner)

    assert feedback(other, prediction["id"], 1).status_code == 403
    assert feedback(owner, prediction["id"], 1).status_code == 200


def test_feedback_on_an_unknown_prediction_is_404(visitor):
    response = feedback(visitor, 999_999, 3)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("label", [10, -1, "seven", None, 3.5, [3]])
def test_feedback_with_a_bad_label_is_400_and_changes_nothing(visitor, label):
    prediction = predict(visitor)

    response = feedback(visitor, prediction["id"], label)

    assert response.status_code == 400
    assert "label" in response.json()["details"]
    assert Submission.objects.get().feedback_label is None
    assert not LabelledSample.objects.exists()


def test_listing_predictions_needs_a_token_or_staff(client, visitor, django_user_model):
    predict(visitor)
    user = django_user_model.objects.create_user(username="someone", password="x" * 12)

    anonymous = client.get(URL)
    visitor_list = visitor.get(URL)
    client.force_login(user)
    logged_in_non_staff = client.get(URL)

    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    assert visitor_list.status_code == 401
    assert logged_in_non_staff.status_code == 403


def test_a_token_user_lists_their_own_and_staff_list_everyone_s(
    visitor, django_user_model, admin_user
):
    owner = token_client(django_user_model, "owner")
    mine = predict(owner, SEVEN)
    predict(visitor, ONE)
    staff = HttpsClient()
    staff.force_login(admin_user)

    own_list = owner.get(URL).json()
    all_list = staff.get(URL).json()

    assert own_list["count"] == 1 and own_list["results"][0]["id"] == mine["id"]
    assert all_list["count"] == 2
    assert {"next", "previous", "results"} <= all_list.keys()


def test_the_listing_filters(visitor, admin_user):
    seven = predict(visitor, SEVEN)
    one = predict(visitor, ONE)
    feedback(visitor, seven["id"], 7)
    feedback(visitor, one["id"], 4)
    staff = HttpsClient()
    staff.force_login(admin_user)

    def ids(query: str) -> set[int]:
        response = staff.get(URL + query)
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids("?digit=7") == {seven["id"]}
    assert ids("?feedback=right") == {seven["id"]}
    assert ids("?feedback=wrong") == {one["id"]}
    assert ids("?feedback=none") == set()
    assert ids("?model_version=1&source=web") == {seven["id"], one["id"]}
    assert ids("?model_version=2") == set()


@pytest.mark.parametrize(
    "query", ["?digit=11", "?feedback=maybe", "?source=fax", "?created_after=x"]
)
def test_a_bad_filter_is_400(admin_user, query):
    staff = HttpsClient()
    staff.force_login(admin_user)

    response = staff.get(URL + query)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_the_stored_28x28_is_what_training_gets(visitor):
    prediction = predict(visitor, SEVEN)
    feedback(visitor, prediction["id"], 7)

    images, _ = labelled_samples_for_training()

    stored = seen_image(Submission.objects.get().preprocessed.name)
    assert np.array_equal(images[0], stored)
    assert images[0].max() == 255  # light digit on black, MNIST convention
