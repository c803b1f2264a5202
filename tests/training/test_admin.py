"""The training side of the admin: versions with pictures, confirmed
activation and rollback with history, retrain, the live job page, accuracy
history."""

import numpy as np
import pytest
from django.contrib.auth.models import Permission

from tests.conftest import HttpsClient
from training.models import JobStatus, ModelActivation, ModelVersion, TrainingJob
from training.services import labelled_sample_create, version_activate

pytestmark = pytest.mark.django_db

METRICS = [
    {"epoch": 1, "member": 1, "loss": 0.30, "accuracy": 0.91, "val_loss": 0.12,
     "val_accuracy": 0.965, "seconds": 21.0},
    {"epoch": 2, "member": 1, "loss": 0.09, "accuracy": 0.972, "val_loss": 0.06,
     "val_accuracy": 0.981, "seconds": 20.5},
]  # fmt: skip


@pytest.fixture
def staff(admin_user) -> HttpsClient:
    client = HttpsClient()
    client.force_login(admin_user)
    return client


@pytest.fixture
def versions(active_model) -> tuple[ModelVersion, ModelVersion]:
    job = TrainingJob.objects.create(preset="quick", status="succeeded", metrics=METRICS,
                                     epoch=2, epochs=2, log="12:00:00 started\n")  # fmt: skip
    second = ModelVersion.objects.create(
        version=2, architecture="cnn_small", artifact_path=active_model.artifact_path,
        artifact_sha256=active_model.artifact_sha256, test_accuracy=0.9901, test_loss=0.03,
        per_class_accuracy=[0.99] * 9 + [0.95], confusion_matrix=np.eye(10, dtype=int).tolist(),
        training_job=job,
    )  # fmt: skip
    for label, predicted in [(1, 1), (7, 1), (3, 3)]:
        labelled_sample_create(
            image=np.full((28, 28), 9, np.uint8), label=label, source="feedback",
            model_version=active_model, predicted_digit=predicted,
        )  # fmt: skip
    return active_model, second


def test_the_changelist_shows_test_and_live_accuracy(staff, versions):
    page = staff.get("/admin/training/modelversion/").content.decode()

    assert "v1" in page and "v2" in page
    assert "99.64 %" in page and "99.01 %" in page
    assert "66.67 % of 3" in page  # two of three feedback labels agreed with v1
    assert "Accuracy history" in page and "Roll back" in page


def test_a_version_page_has_its_pictures(staff, versions):
    _, second = versions

    page = staff.get(f"/admin/training/modelversion/{second.pk}/change/").content.decode()

    assert page.count('<figure class="chart">') == 4  # per-class, confusion, loss, accuracy
    assert "confusion matrix" in page and "loss per epoch" in page
    assert "Compare with v1" in page and "Activate…" in page


def test_compare_shows_the_per_digit_differences(staff, versions):
    _, second = versions

    page = staff.get(f"/admin/training/modelversion/{second.pk}/compare/").content.decode()

    assert "<svg" in page and "difference (points)" in page
    assert "-4." in page  # digit 9: 95 % against the bundled model's 99.x %


def test_activation_asks_first_then_records_who_and_why(staff, versions, admin_user):
    _, second = versions
    url = f"/admin/training/modelversion/{second.pk}/activate/"

    question = staff.get(url)
    assert ModelVersion.objects.get(is_active=True).version == 1
    answer = staff.post(url, {"reason": "better on 3s"})

    assert question.status_code == 200 and b"Yes, activate v2" in question.content
    assert answer.status_code == 302
    assert ModelVersion.objects.get(is_active=True).version == 2
    activation = ModelActivation.objects.first()
    assert (activation.version, activation.activated_by, activation.reason) == (
        second, admin_user, "better on 3s",
    )  # fmt: skip
    history = staff.get(f"/admin/training/modelversion/{second.pk}/change/").content.decode()
    assert "better on 3s" in history


def test_the_activate_action_goes_to_the_confirmation(staff, versions):
    _, second = versions

    response = staff.post(
        "/admin/training/modelversion/",
        {"action": "activate_selected", "_selected_action": [second.pk]},
    )

    assert response.status_code == 302
    assert response["Location"].endswith(f"/{second.pk}/activate/")
    assert ModelVersion.objects.get(is_active=True).version == 1


def test_rollback_returns_to_the_previous_version(staff, versions):
    version_activate(version=2, reason="try")
    action = staff.post(
        "/admin/training/modelversion/",
        {"action": "roll_back", "_selected_action": [versions[1].pk]},
    )
    assert action["Location"].endswith("/admin/training/modelversion/rollback/")

    question = staff.get("/admin/training/modelversion/rollback/")
    staff.post("/admin/training/modelversion/rollback/")

    assert b"Roll back to v1" in question.content
    assert ModelVersion.objects.get(is_active=True).version == 1
    assert ModelActivation.objects.first().reason == "rollback in the admin"


def test_the_accuracy_history_page(staff, versions):
    version_activate(version=2, reason="try")

    page = staff.get("/admin/training/modelversion/accuracy/").content.decode()

    assert "<svg" in page and "test accuracy (MNIST)" in page and "live accuracy" in page
    assert "66.67 %" in page and "Activation timeline" in page and "try" in page
    assert "3 new feedback labels" in page
    index = staff.get("/admin/").content.decode()
    assert "/admin/training/modelversion/accuracy/" in index


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


@pytest.mark.parametrize(
    "url",
    [
        "/admin/training/modelversion/",
        "/admin/training/modelversion/accuracy/",
        "/admin/training/trainingjob/add/",
    ],
)
def test_the_pages_are_refused_to_others(client, django_user_model, url):
    anonymous = client.get(url)
    user = django_user_model.objects.create_user(username="visitor", password="x" * 12)
    client.force_login(user)
    not_staff = client.get(url)

    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    assert not_staff.status_code == 302


def test_staff_without_the_change_permission_cannot_activate(versions, django_user_model):
    viewer = django_user_model.objects.create_user(username="viewer", password="x" * 12,
                                                   is_staff=True)  # fmt: skip
    viewer.user_permissions.add(Permission.objects.get(codename="view_modelversion"))
    client = HttpsClient()
    client.force_login(viewer)
    _, second = versions

    response = client.post(f"/admin/training/modelversion/{second.pk}/activate/")

    assert response.status_code == 403
    assert ModelVersion.objects.get(is_active=True).version == 1
