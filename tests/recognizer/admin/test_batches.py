"""Inference batches in the admin (recognizer/admin/batches.py): progress
without loading the upload, read-only pages, results by batch."""

import re
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recognizer.models import BatchResult, InferenceBatch

pytestmark = pytest.mark.django_db


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
    assert "123.4" in html and "v1" in html
    # Started 42 s before the page was asked for; the page takes its own time.
    assert re.search(r'field-duration">4\d s<', html)


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
