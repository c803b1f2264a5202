"""Submissions in the admin (recognizer/admin/submissions.py): who may see
them, the changelist and detail page, filters and search, and the relabel and
exclude-from-training actions."""

import numpy as np
import pytest
from django.utils import timezone

from recognizer.imaging.inputs import DigitInput
from recognizer.models import Submission
from recognizer.services import submission_feedback, submissions_relabel
from recognizer.services.submission_images import seen_image
from recognizer.submission_store import images_save_many
from tests.conftest import HttpsClient
from tests.harness.canvas import ONE, SEVEN
from tests.recognizer.admin.conftest import (
    CHANGELIST,
    predict,
    run_action,
    shown,
    staff_user,
)
from training.models import LabelledSample, ModelVersion
from training.services.samples import SampleError

pytestmark = pytest.mark.django_db


def test_changelist_shows_thumbnails_digit_confidence_and_version(staff, visitor):
    one, seven = predict(visitor, ONE), predict(visitor, SEVEN)

    response = staff.get(CHANGELIST)

    assert response.status_code == 200
    html = response.content.decode()
    for submission in (one, seven):
        assert f'src="{CHANGELIST}{submission.pk}/image/original.png"' in html
        assert f'src="{CHANGELIST}{submission.pk}/image/seen.png"' in html
        assert f"{submission.confidence:.1%}" in html
    assert 'loading="lazy"' in html and "data:image" not in html
    assert "v1" in html and "admin-extras/recognizer.css" in html
    assert shown(response) == [one.pk, seven.pk]


def test_detail_page_shows_both_images_larger_and_the_probabilities(staff, visitor):
    submission = predict(visitor, SEVEN)

    response = staff.get(f"{CHANGELIST}{submission.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert f"{submission.pk}/image/original.png?size=large" in html
    assert f"{submission.pk}/image/seen.png" in html
    assert html.count("<meter") == 10
    assert 'name="_save"' not in html  # read-only: labels change through the actions


def test_admin_refuses_anonymous_and_non_staff_users(visitor, django_user_model):
    submission = predict(visitor)
    urls = [
        CHANGELIST,
        f"{CHANGELIST}{submission.pk}/change/",
        f"{CHANGELIST}{submission.pk}/image/original.png",
        f"{CHANGELIST}{submission.pk}/image/seen.png",
        "/admin/recognizer/inferencebatch/",
        "/admin/recognizer/batchresult/",
    ]
    anonymous = HttpsClient()
    member = HttpsClient()
    member.force_login(django_user_model.objects.create_user(username="member", password="x" * 12))

    for client in (anonymous, member):
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith("/admin/login/"), url


def test_staff_without_view_permission_get_no_images(visitor, django_user_model):
    submission = predict(visitor)
    client = HttpsClient()
    client.force_login(staff_user(django_user_model, "intern"))

    assert client.get(CHANGELIST).status_code == 403
    assert client.get(f"{CHANGELIST}{submission.pk}/image/original.png").status_code == 403
    assert client.get(f"{CHANGELIST}{submission.pk}/image/seen.png").status_code == 403


@pytest.fixture
def labelled(visitor, api_client, active_model) -> dict[str, Submission]:
    """One each: right (web), wrong (web), unknown (api), and one read by v2."""
    right, wrong = predict(visitor, ONE), predict(visitor, SEVEN)
    submission_feedback(submission_id=right.pk, label=right.digit, by=None)
    submission_feedback(submission_id=wrong.pk, label=(wrong.digit + 1) % 10, by=None)
    unknown = predict(api_client, ONE)
    v2 = ModelVersion.objects.create(version=2, architecture="test")
    other = Submission.objects.create(
        source="api", image="", image_format="pixels", preprocessed=blank_seen(), digit=3,
        confidence=0.5, probabilities=[0.05] * 10, model_version=v2, latency_ms=1.0,
    )  # fmt: skip
    return {"right": right, "wrong": wrong, "unknown": unknown, "v2": other}


def blank_seen() -> str:
    """A stored 28x28 for a submission made by hand."""
    blank = DigitInput(np.zeros((28, 28), np.float32), b"", "pixels")
    return images_save_many([("tests/blank", blank)])[0].preprocessed


def test_right_wrong_and_unknown_filters(staff, labelled):
    pk = {name: submission.pk for name, submission in labelled.items()}

    assert shown(staff.get(f"{CHANGELIST}?feedback=right")) == [pk["right"]]
    assert shown(staff.get(f"{CHANGELIST}?feedback=wrong")) == [pk["wrong"]]
    assert shown(staff.get(f"{CHANGELIST}?feedback=none")) == sorted([pk["unknown"], pk["v2"]])


def test_digit_version_and_source_filters(staff, labelled, active_model):
    pk = {name: submission.pk for name, submission in labelled.items()}
    sevens = [s.pk for s in labelled.values() if s.digit == 7]
    v2 = labelled["v2"].model_version

    assert sevens and shown(staff.get(f"{CHANGELIST}?digit=7")) == sorted(sevens)
    assert shown(staff.get(f"{CHANGELIST}?digit=3")) == [pk["v2"]]
    assert shown(staff.get(f"{CHANGELIST}?model_version__id__exact={v2.pk}")) == [pk["v2"]]
    assert pk["v2"] not in shown(
        staff.get(f"{CHANGELIST}?model_version__id__exact={active_model.pk}")
    )
    assert shown(staff.get(f"{CHANGELIST}?source__exact=web")) == sorted([pk["right"], pk["wrong"]])
    assert shown(staff.get(f"{CHANGELIST}?source__exact=api")) == sorted([pk["unknown"], pk["v2"]])
    wrong_label = Submission.objects.get(pk=pk["wrong"]).feedback_label
    assert shown(staff.get(f"{CHANGELIST}?label={wrong_label}")) == [pk["wrong"]]
    invalid = staff.get(f"{CHANGELIST}?digit=seven")
    assert invalid.status_code == 302 and invalid["Location"].endswith("?e=1")


def test_date_filters_and_search_by_id(staff, labelled):
    pk = labelled["wrong"].pk
    today = timezone.now()

    day = staff.get(
        f"{CHANGELIST}?created_at__year={today.year}&created_at__month={today.month}"
        f"&created_at__day={today.day}"
    )
    assert len(shown(day)) == 4
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    since = staff.get(CHANGELIST, {"created_at__gte": midnight.isoformat()})
    assert len(shown(since)) == 4
    assert shown(staff.get(f"{CHANGELIST}?q={pk}")) == [pk]
    not_an_id = staff.get(f"{CHANGELIST}?q=seven")
    assert not_an_id.status_code == 200 and shown(not_an_id) == []


def test_relabel_shows_an_intermediate_page_with_the_selection(staff, labelled):
    ids = [labelled["right"].pk, labelled["unknown"].pk]

    response = run_action(staff, "relabel_selected", ids)

    assert response.status_code == 200
    assert "admin/recognizer/submission/relabel.html" in [t.name for t in response.templates]
    html = response.content.decode()
    for pk in ids:
        assert f'name="_selected_action" value="{pk}"' in html
        assert f"{pk}/image/original.png" in html
    assert 'name="action" value="relabel_selected"' in html and 'name="apply"' in html
    assert Submission.objects.get(pk=ids[1]).feedback_label is None  # nothing yet


def test_relabel_records_feedback_and_hands_samples_to_training(staff, labelled, admin_user):
    right, unknown = labelled["right"], labelled["unknown"]
    label = (right.digit + 2) % 10

    response = run_action(
        staff, "relabel_selected", [right.pk, unknown.pk], apply="Relabel", label=label
    )

    assert response.status_code == 302
    for submission in (right, unknown):
        submission.refresh_from_db()
        assert submission.feedback_label == label and submission.feedback_by == admin_user
        sample = submission.labelled_sample
        assert sample.label == label
        assert bytes(sample.image) == seen_image(submission.preprocessed.name).tobytes()
        assert sample.predicted_digit == submission.digit
    assert right.labelled_sample.source == "feedback"  # the visitor's sample, corrected
    assert unknown.labelled_sample.source == "relabel"  # new, from staff
    assert LabelledSample.objects.count() == 3  # right's, wrong's and the new one
    messages = [str(m) for m in staff.get(response["Location"]).context["messages"]]
    assert f"Labelled 2 submission(s) as {label}." in messages


def test_relabel_without_a_valid_digit_asks_again(staff, labelled):
    unknown = labelled["unknown"]

    response = run_action(staff, "relabel_selected", [unknown.pk], apply="Relabel", label=12)

    assert response.status_code == 200 and "errornote" in response.content.decode()
    unknown.refresh_from_db()
    assert unknown.feedback_label is None and unknown.labelled_sample is None


def test_relabel_service_refuses_a_label_that_is_not_a_digit(labelled, admin_user):
    with pytest.raises(SampleError):
        submissions_relabel(submission_ids=[labelled["unknown"].pk], label=10, by=admin_user)


def test_exclude_and_include_toggle_the_training_samples(staff, labelled):
    ids = [s.pk for s in labelled.values()]  # two have samples, two have no feedback

    response = run_action(staff, "exclude_from_training", ids)

    assert response.status_code == 302
    assert LabelledSample.objects.filter(excluded=True).count() == 2
    messages = [str(m) for m in staff.get(response["Location"]).context["messages"]]
    assert messages == [
        "2 training sample(s) excluded from training. "
        "2 selected submission(s) have no feedback, so no sample."
    ]
    listed = staff.get(f"{CHANGELIST}?feedback=right").content.decode()
    assert 'alt="False"' in listed  # "in training" shows the red icon

    response = run_action(staff, "include_in_training", [labelled["right"].pk])

    assert not LabelledSample.objects.get(submission=labelled["right"]).excluded
    assert LabelledSample.objects.get(submission=labelled["wrong"]).excluded
    messages = [str(m) for m in staff.get(response["Location"]).context["messages"]]
    assert messages == ["1 training sample(s) included in training."]


def test_actions_need_the_change_permission(labelled, django_user_model):
    viewer = HttpsClient()
    viewer.force_login(staff_user(django_user_model, "viewer", "view_submission"))
    unknown = labelled["unknown"]

    page = viewer.get(CHANGELIST)
    run_action(viewer, "relabel_selected", [unknown.pk], apply="Relabel", label=4)
    run_action(viewer, "exclude_from_training", [labelled["right"].pk])

    assert page.status_code == 200 and "relabel_selected" not in page.content.decode()
    unknown.refresh_from_db()
    assert unknown.feedback_label is None
    assert not LabelledSample.objects.filter(excluded=True).exists()
