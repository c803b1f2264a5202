"""Uploads are kept SUBMISSION_ORIGINAL_RETENTION_DAYS, then deleted by beat's
hourly task (recognizer/services/retention.py); the 28x28 stays, and the
admin shows it in place of the drawing."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recognizer.models import Submission
from recognizer.services.retention import originals_expire
from recognizer.services.submission_images import seen_image
from recognizer.submission_store import image_read
from recognizer.tasks import expire_originals_task
from tests.object_store import S3Store
from tests.recognizer.admin.conftest import CHANGELIST, png_of
from tests.recognizer.test_submission_store import predict

pytestmark = pytest.mark.django_db


def submitted(client) -> Submission:
    response = predict(client)
    assert response.status_code == 201
    return Submission.objects.get(pk=response.json()["id"])


def aged(submission: Submission, days: int) -> Submission:
    Submission.objects.filter(pk=submission.pk).update(
        created_at=timezone.now() - timedelta(days=days)
    )
    return submission


def test_uploads_past_the_retention_are_deleted_and_the_28x28_kept(
    client, active_model, settings, submission_files
):
    settings.SUBMISSION_ORIGINAL_RETENTION_DAYS = 90
    old, recent = aged(submitted(client), 91), aged(submitted(client), 89)
    old_upload = old.image.name

    assert expire_originals_task() == 1
    assert expire_originals_task() == 0  # nothing left to do

    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.image.name == "" and not (submission_files / old_upload).exists()
    assert seen_image(old.preprocessed.name).max() == 255
    assert image_read(recent.image.name).startswith(b"\x89PNG")


def test_a_retention_of_zero_keeps_uploads_for_ever(client, active_model, settings):
    settings.SUBMISSION_ORIGINAL_RETENTION_DAYS = 0
    old = aged(submitted(client), 3650)

    assert expire_originals_task() == 0
    old.refresh_from_db()
    assert image_read(old.image.name).startswith(b"\x89PNG")


def test_on_s3_expired_uploads_are_deleted_in_bulk(client, active_model, settings):
    store = S3Store(overwrite=True)
    settings.STORAGES = {**settings.STORAGES, "submissions": store.backend}
    try:
        for _ in range(3):
            submitted(client)
        kept = aged(Submission.objects.order_by("pk").last(), 1)
        for old in Submission.objects.exclude(pk=kept.pk):
            aged(old, 100)

        deleted = originals_expire(older_than=timedelta(days=90))

        rows = Submission.objects.order_by("pk")
        assert deleted == 2 and [row.image.name == "" for row in rows] == [True, True, False]
        assert store.keys() == {row.preprocessed.name for row in rows} | {kept.image.name}
    finally:
        store.close()


def test_a_round_is_one_query_for_the_expired_rows_then_one_delete_and_one_update(
    client, active_model
):
    for _ in range(3):
        aged(submitted(client), 100)

    with CaptureQueriesContext(connection) as queries:
        assert originals_expire(older_than=timedelta(days=90)) == 3

    statements = [query["sql"].split()[0] for query in queries.captured_queries]
    # The rows, the backlog's copies (none here), the rows' keys; then the next round.
    assert statements == ["SELECT", "DELETE", "UPDATE", "SELECT"]


def test_the_admin_shows_the_28x28_once_the_upload_is_gone(client, active_model, admin_user):
    submission = aged(submitted(client), 100)
    client.force_login(admin_user)
    originals_expire(older_than=timedelta(days=90))

    drawing = png_of(client.get(f"{CHANGELIST}{submission.pk}/image/original.png"))
    seen = png_of(client.get(f"{CHANGELIST}{submission.pk}/image/seen.png"))

    assert drawing.size == seen.size == (56, 56)
