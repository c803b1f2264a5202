"""Training jobs in the admin: retrain, the live job page, cancel, the
jobs list, stages and data-source warnings (training/admin/jobs.py)."""

import pytest

from mnistsite.queued_work import JobStatus
from tests.training.admin.conftest import (
    METRICS,
)
from training import selectors
from training.models import TrainingJob

pytestmark = pytest.mark.django_db


def test_retrain_creates_a_job_through_the_service(staff, admin_user):
    form = staff.get("/admin/training/trainingjob/add/")
    response = staff.post(
        "/admin/training/trainingjob/add/",
        {"preset": "quick", "epochs": "2", "include_feedback": "on"},
    )

    assert form.status_code == 200 and b"Start training" in form.content
    job = TrainingJob.objects.get()
    assert response["Location"].endswith(f"/admin/training/trainingjob/{job.pk}/change/")
    assert (job.preset, job.params["epochs"], job.requested_by) == ("quick", 2, admin_user)
    assert job.params["architecture"] == "cnn_small" and job.status == JobStatus.QUEUED


def test_retrain_with_bad_parameters_shows_the_errors_and_starts_nothing(staff):
    response = staff.post("/admin/training/trainingjob/add/", {"preset": "quick", "epochs": "0"})

    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not TrainingJob.objects.exists()


def test_the_job_page_shows_progress_metrics_curves_and_log(staff):
    job = TrainingJob.objects.create(
        preset="quick", status="running", epoch=2, epochs=3, epoch_fraction=0.5,
        eta_seconds=75, metrics=METRICS[:1], log="12:00:00 started on worker-1\n",
    )  # fmt: skip

    page = staff.get(f"/admin/training/trainingjob/{job.pk}/change/").content.decode()
    live = staff.get(f"/admin/training/trainingjob/{job.pk}/live/")

    assert '<progress id="job-progress" value="50.0"' in page
    assert "epoch 2 of 3" in page and "about 1 min 15 s left" in page
    assert "started on worker-1" in page and "Cancel this job" in page
    assert "job-live.js" in page
    assert live.status_code == 200 and b'data-finished="false"' in live.content
    assert "no-store" in live["Cache-Control"]


def test_cancel_from_the_job_page(staff):
    job = TrainingJob.objects.create(preset="quick", status="running")

    staff.post(f"/admin/training/trainingjob/{job.pk}/cancel/")

    job.refresh_from_db()
    assert job.cancel_requested is True


def test_the_jobs_changelist_shows_duration_and_result(staff, versions):
    page = staff.get("/admin/training/trainingjob/").content.decode()

    assert "v2" in page and "99.01 %" in page


# --- training jobs: stage, data sources, pen-drawn copies --------------------------


def test_the_live_job_page_shows_the_stage_while_it_runs(staff):
    job = TrainingJob.objects.create(
        preset="quick", status="running", stage="fetching MNIST: 3.1 of 11.6 MB"
    )

    page = staff.get(f"/admin/training/trainingjob/{job.pk}/change/").content.decode()
    live = staff.get(f"/admin/training/trainingjob/{job.pk}/live/").content.decode()
    TrainingJob.objects.filter(pk=job.pk).update(status="succeeded", stage="saving")
    ended = staff.get(f"/admin/training/trainingjob/{job.pk}/live/").content.decode()

    assert "Now: fetching MNIST: 3.1 of 11.6 MB" in live
    assert "Now: fetching MNIST" in page
    assert "Now:" not in ended


def test_the_job_page_lists_the_stage_among_its_fields(staff):
    job = TrainingJob.objects.create(preset="quick", status="failed", stage="training")

    page = staff.get(f"/admin/training/trainingjob/{job.pk}/change/").content.decode()

    assert "field-stage" in page


def test_retrain_page_warns_when_no_mnist_source_is_reachable(staff, data_sources):
    data_sources["mnist"] = "the cache /nowhere is empty; the Keras mirror: timed out"

    page = staff.get("/admin/training/trainingjob/add/").content.decode()

    warning = page[page.index('class="errornote data-source-mnist"') :]
    warning = warning[: warning.index("</p>")]
    assert "No MNIST source is reachable" in warning
    assert "a job started now will fail" in warning
    assert "the cache /nowhere is empty; the Keras mirror: timed out" in warning
    assert "MNIST_DIR" in warning and "manage.py fetch_mnist" in warning
    assert page.index("data-source-mnist") < page.index('<form method="post" novalidate>')
    assert "data-source-pendigits" not in page


def test_retrain_page_warns_that_without_pen_drawn_digits_there_is_no_canvas_score(
    staff, data_sources
):
    data_sources["pendigits"] = "UCI: connection refused"

    page = staff.get("/admin/training/trainingjob/add/").content.decode()

    warning = page[page.index('class="warning data-source-pendigits"') :]
    warning = warning[: warning.index("</li>")]
    assert "train on MNIST alone and get no canvas score" in warning
    assert "UCI: connection refused" in warning and "PENDIGITS_DIR" in warning
    assert page.index("data-source-pendigits") < page.index('<form method="post" novalidate>')
    assert "data-source-mnist" not in page  # the softer warning only


def test_retrain_page_has_no_data_source_warning_when_both_are_found(staff):
    page = staff.get("/admin/training/trainingjob/add/").content.decode()

    assert "data-source-mnist" not in page and "data-source-pendigits" not in page


def test_retrain_page_shows_what_data_source_warnings_says(staff, monkeypatch):
    monkeypatch.setattr(
        selectors, "data_source_warnings",
        lambda: selectors.DataSourceWarnings(mnist="asked the selector", pendigits="it too"),
    )  # fmt: skip

    page = staff.get("/admin/training/trainingjob/add/").content.decode()

    assert "asked the selector" in page and "it too" in page


def test_retrain_asks_the_probes_at_most_once_a_minute(staff, monkeypatch):
    asked = []
    monkeypatch.setattr(selectors, "mnist_probe", lambda *args, **kwargs: asked.append(1))

    staff.get("/admin/training/trainingjob/add/")
    staff.get("/admin/training/trainingjob/add/")

    assert asked == [1]


def test_retrain_passes_pen_copies_to_the_job(staff):
    staff.post("/admin/training/trainingjob/add/", {"preset": "quick", "pen_copies": "0"})
    staff.post("/admin/training/trainingjob/add/", {"preset": "quick", "pen_copies": ""})

    chosen, preset = TrainingJob.objects.order_by("pk")
    assert chosen.params["pen_copies"] == 0  # MNIST alone
    assert preset.params["pen_copies"] == 2  # blank: the preset's


def test_retrain_refuses_pen_copies_out_of_range(staff):
    form = staff.get("/admin/training/trainingjob/add/").content.decode()
    response = staff.post(
        "/admin/training/trainingjob/add/", {"preset": "quick", "pen_copies": "17"}
    )

    assert 'name="pen_copies"' in form and "MNIST alone" in form
    assert response.status_code == 200 and b"errorlist" in response.content
    assert not TrainingJob.objects.exists()
