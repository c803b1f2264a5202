"""Submissions, feedback and inference batches in the Django admin: the
changelists, the thumbnails (served by staff-only views, never inlined), the
filters, and the relabel and exclude-from-training actions."""

import base64
import io
import time
from datetime import timedelta

import numpy as np
import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image, ImageDraw

from recognizer.admin.thumbnails import thumbnail_png
from recognizer.models import BatchResult, InferenceBatch, Submission
from recognizer.services import submission_feedback, submissions_relabel
from tests.conftest import HttpsClient
from tests.harness.canvas import ONE, SEVEN, canvas_png
from training.models import LabelledSample, ModelVersion
from training.services.samples import SampleError

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/recognizer/submission/"


def predict(client: HttpsClient, strokes=ONE, *, png: bytes | None = None) -> Submission:
    image = base64.b64encode(png or canvas_png(strokes)).decode()
    response = client.post(
        "/api/v1/predictions/", {"image": image}, content_type="application/json"
    )
    assert response.status_code == 201, response.json()
    return Submission.objects.get(pk=response.json()["id"])


def predict_pixels(client: HttpsClient) -> Submission:
    pixels = np.zeros((28, 28), dtype=np.uint8)
    pixels[4:24, 13:16] = 255  # a "1", MNIST style
    response = client.post(
        "/api/v1/predictions/", {"pixels": pixels.tolist()}, content_type="application/json"
    )
    assert response.status_code == 201, response.json()
    return Submission.objects.get(pk=response.json()["id"])


def png_of(response) -> Image.Image:
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(b"".join(response)))
    assert image.format == "PNG"
    return image


def shown(response) -> list[int]:
    """The ids a changelist response lists."""
    return sorted(obj.pk for obj in response.context["cl"].result_list)


def run_action(client: HttpsClient, action: str, ids: list[int], url=CHANGELIST, **data):
    return client.post(url, {"action": action, "_selected_action": ids, **data})


@pytest.fixture
def staff(client: HttpsClient, admin_user) -> HttpsClient:
    client.force_login(admin_user)
    return client


@pytest.fixture
def visitor(active_model) -> HttpsClient:
    """A browser on the drawing page: its predictions are `web`."""
    visitor = HttpsClient()
    visitor.get("/")
    return visitor


@pytest.fixture
def api_client(active_model) -> HttpsClient:
    return HttpsClient()


def staff_user(django_user_model, username: str, *perms: str):
    user = django_user_model.objects.create_user(
        username=username, password="x" * 12, is_staff=True
    )
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    return user


# --- Who may see it ----------------------------------------------------------


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


# --- The images ----------------------------------------------------------------


def test_original_thumbnail_is_a_small_png_of_the_drawing(staff, visitor):
    submission = predict(visitor, SEVEN)

    response = staff.get(f"{CHANGELIST}{submission.pk}/image/original.png")

    image = png_of(response)
    assert image.size == (96, 96)  # the 280x280 canvas, shrunk
    assert response["Cache-Control"] == "private, max-age=3600"
    pixels = np.asarray(image.convert("L"))
    assert pixels[0, 0] == 255 and pixels.min() < 64  # dark ink on white, as drawn
    large = png_of(staff.get(f"{CHANGELIST}{submission.pk}/image/original.png?size=large"))
    assert large.size == (280, 280)


def test_thumbnail_keeps_the_aspect_ratio_and_flattens_transparency_onto_white(staff, visitor):
    drawing = Image.new("RGBA", (1200, 600), (0, 0, 0, 0))  # a transparent canvas
    ImageDraw.Draw(drawing).line([(600, 100), (600, 500)], fill=(0, 0, 0, 255), width=60)
    buffer = io.BytesIO()
    drawing.save(buffer, format="PNG")
    submission = predict(visitor, png=buffer.getvalue())

    image = png_of(staff.get(f"{CHANGELIST}{submission.pk}/image/original.png"))

    assert image.size == (96, 48) and image.mode == "RGB"
    pixels = np.asarray(image.convert("L"))
    assert pixels[0, 0] == 255 and pixels[24, 48] < 64


def test_thumbnail_follows_the_exif_orientation_as_the_model_does(staff, visitor):
    photo = Image.new("RGB", (400, 200), "white")
    ImageDraw.Draw(photo).line([(100, 100), (300, 100)], fill="black", width=30)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: turn 90 degrees clockwise to show
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", exif=exif.tobytes())
    submission = predict(visitor, png=buffer.getvalue())

    image = png_of(staff.get(f"{CHANGELIST}{submission.pk}/image/original.png"))

    assert image.size == (48, 96)


@pytest.mark.parametrize("mode", ["I;16", "P", "LA"])
def test_thumbnail_of_unusual_image_modes_is_dark_ink_on_white(mode):
    ink = Image.new("L", (120, 120), 0)
    ImageDraw.Draw(ink).line([(60, 10), (60, 110)], fill=255, width=20)
    if mode == "I;16":  # 16-bit grey, dark on light: clipped to 8 bits, all would be white
        image = Image.fromarray(np.where(np.asarray(ink) > 0, 5000, 65535).astype(np.uint16))
    elif mode == "P":  # a palette with a transparent background
        image = Image.new("P", (120, 120), 0)
        image.putpalette([255, 0, 255, 0, 0, 0])
        image.paste(1, mask=ink)
        image.info["transparency"] = 0
    else:  # black ink on a transparent background
        image = Image.merge("LA", [Image.new("L", (120, 120), 0), ink])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")

    thumbnail = Image.open(io.BytesIO(thumbnail_png(buffer.getvalue(), size=96)))

    pixels = np.asarray(thumbnail.convert("L"))
    assert thumbnail.size == (96, 96) and thumbnail.mode == "RGB"
    assert pixels[5, 5] == 255 and pixels[48, 48] < 32


def test_seen_is_the_28x28_the_model_saw_at_56x56(staff, visitor):
    submission = predict(visitor, ONE)

    image = png_of(staff.get(f"{CHANGELIST}{submission.pk}/image/seen.png"))

    assert image.size == (56, 56) and image.mode == "L"
    seen = np.frombuffer(bytes(submission.preprocessed), dtype=np.uint8).reshape(28, 28)
    assert np.array_equal(np.asarray(image)[::2, ::2], seen)
    assert np.array_equal(np.asarray(image)[1::2, 1::2], seen)  # nearest, no blur


def test_a_pixel_array_submission_shows_its_28x28_as_the_original(staff, api_client):
    submission = predict_pixels(api_client)
    assert bytes(submission.image) == b"" and submission.image_format == "pixels"

    image = png_of(staff.get(f"{CHANGELIST}{submission.pk}/image/original.png"))

    assert image.size == (56, 56)
    assert staff.get(f"{CHANGELIST}{submission.pk}/change/").status_code == 200


def test_image_of_an_unknown_submission_is_404(staff, active_model):
    assert staff.get(f"{CHANGELIST}999999/image/original.png").status_code == 404
    assert staff.get(f"{CHANGELIST}999999/image/seen.png").status_code == 404


# --- Filters and search --------------------------------------------------------


@pytest.fixture
def labelled(visitor, api_client, active_model) -> dict[str, Submission]:
    """One each: right (web), wrong (web), unknown (api), and one read by v2."""
    right, wrong = predict(visitor, ONE), predict(visitor, SEVEN)
    submission_feedback(submission_id=right.pk, label=right.digit, by=None)
    submission_feedback(submission_id=wrong.pk, label=(wrong.digit + 1) % 10, by=None)
    unknown = predict(api_client, ONE)
    v2 = ModelVersion.objects.create(version=2, architecture="test")
    other = Submission.objects.create(
        source="api", image=b"", image_format="pixels", preprocessed=bytes(784), digit=3,
        confidence=0.5, probabilities=[0.05] * 10, model_version=v2, latency_ms=1.0,
    )  # fmt: skip
    return {"right": right, "wrong": wrong, "unknown": unknown, "v2": other}


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


# --- Actions -------------------------------------------------------------------


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
        assert bytes(sample.image) == bytes(submission.preprocessed)
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


# --- Batches -------------------------------------------------------------------


@pytest.fixture
def batch(active_model, admin_user) -> InferenceBatch:
    """A running batch holding a 5 MB upload, four of ten items done."""
    batch = InferenceBatch.objects.create(
        status="running", created_by=admin_user, model_version=active_model, input_format="npy",
        payload=b"\x93NUMPY" + bytes(5 * 1024 * 1024), total=10, processed=4,
        started_at=timezone.now() - timedelta(seconds=42), images_per_second=123.4,
    )  # fmt: skip
    for index in range(4):
        BatchResult.objects.create(
            batch=batch, index=index, ref=f"item-{index}", digit=index, confidence=0.9
        )
    return batch


def no_payload_read(queries: CaptureQueriesContext) -> bool:
    return not any("payload" in query["sql"] for query in queries.captured_queries)


def test_batch_changelist_shows_progress_without_loading_the_payload(staff, batch):
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        response = staff.get("/admin/recognizer/inferencebatch/")

    assert response.status_code == 200 and time.perf_counter() - started < 5
    assert no_payload_read(queries)
    html = response.content.decode()
    assert '<progress value="4" max="10">40.0%</progress> 4/10' in html
    assert f'href="/api/v1/batches/{batch.pk}/results/"' in html
    assert f'href="/api/v1/batches/{batch.pk}/results/?format=csv"' in html
    assert f'href="/admin/recognizer/batchresult/?batch={batch.pk}"' in html
    assert "123.4" in html and "42 s" in html and "v1" in html


def test_batch_page_is_read_only_and_a_running_batch_cannot_be_deleted(staff, batch):
    with CaptureQueriesContext(connection) as queries:
        response = staff.get(f"/admin/recognizer/inferencebatch/{batch.pk}/change/")

    assert response.status_code == 200 and no_payload_read(queries)
    assert 'name="_save"' not in response.content.decode()
    assert staff.get("/admin/recognizer/inferencebatch/add/").status_code == 403
    assert staff.get(f"/admin/recognizer/inferencebatch/{batch.pk}/delete/").status_code == 403


def test_batch_results_list_filters_by_batch(staff, batch, active_model, admin_user):
    other = InferenceBatch.objects.create(
        status="succeeded", created_by=admin_user, model_version=active_model,
        input_format="json", total=1, processed=1,
    )  # fmt: skip
    BatchResult.objects.create(batch=other, index=0, error_code="not_an_image", error_message="no")

    with CaptureQueriesContext(connection) as queries:
        response = staff.get(f"/admin/recognizer/batchresult/?batch={batch.pk}")

    assert response.status_code == 200 and no_payload_read(queries)
    rows = response.context["cl"].result_list
    assert [row.index for row in rows] == [0, 1, 2, 3]
    assert {row.batch_id for row in rows} == {batch.pk}
    errors = staff.get("/admin/recognizer/batchresult/?outcome=error")
    assert [row.batch_id for row in errors.context["cl"].result_list] == [other.pk]


def test_batch_results_json_link_answers_a_staff_session(staff, batch):
    response = staff.get(f"/api/v1/batches/{batch.pk}/results/")

    assert response.status_code == 200
    assert [item["ref"] for item in response.json()["results"]] == [
        f"item-{index}" for index in range(4)
    ]
