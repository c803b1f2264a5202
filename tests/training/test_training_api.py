"""Training jobs over the API (staff): create from a preset or explicit
parameters, follow, filter, cancel."""

import pytest

from tests.broker import refuse_tasks
from training.models import TrainingJob

pytestmark = pytest.mark.django_db

URL = "/api/v1/training-jobs/"


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def test_a_preset_job_is_created_with_202_and_its_full_parameters(staff, admin_user):
    response = staff.post(URL, {"preset": "quick"}, content_type="application/json")

    assert response.status_code == 202, response.json()
    job = response.json()
    assert job["status"] == "queued" and job["preset"] == "quick"
    assert job["params"]["architecture"] == "cnn_small" and job["epochs"] == 3
    assert job["progress"] == 0.0 and job["metrics"] == [] and job["model_version"] is None
    assert job["requested_by"] == admin_user.username
    assert response["Location"].endswith(f"{URL}{job['id']}/")


def test_explicit_parameters_override_the_preset(staff):
    body = {"preset": "standard", "epochs": 2, "augment": False, "learning_rate": 0.001}

    job = staff.post(URL, body, content_type="application/json").json()

    assert (job["params"]["epochs"], job["params"]["augment"]) == (2, False)
    assert job["params"]["learning_rate"] == 0.001


@pytest.mark.parametrize(
    "body, field",
    [
        ({"preset": "huge"}, "preset"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": "five"}, "epochs"),
        ({"architecture": "resnet"}, "architecture"),
        ({"learning_rate": 7}, "learning_rate"),
        ({"augment": "yes"}, "augment"),
        ({"colour": "blue"}, "colour"),
        ({"pen_copies": 17}, "pen_copies"),
        ({"pen_copies": -1}, "pen_copies"),
        ({"pen_copies": "two"}, "pen_copies"),
    ],
)
def test_bad_parameters_are_400_naming_the_field_and_store_nothing(staff, body, field):
    response = staff.post(URL, body, content_type="application/json")

    assert response.status_code == 400
    assert field in response.json()["details"]
    assert not TrainingJob.objects.exists()


def test_jobs_are_listed_and_filtered(staff):
    TrainingJob.objects.create(preset="quick", status="succeeded")
    TrainingJob.objects.create(preset="standard", status="running", epoch=2, epochs=12)

    everything = staff.get(URL).json()
    running = staff.get(URL + "?status=running").json()

    assert everything["count"] == 2
    assert [job["preset"] for job in running["results"]] == ["standard"]
    assert running["results"][0]["progress"] == pytest.approx(1 / 12)
    assert staff.get(URL + "?status=sleeping").status_code == 400


def test_a_job_shows_live_progress_and_per_epoch_metrics(staff):
    metrics = [{"epoch": 1, "loss": 0.3, "accuracy": 0.9, "val_loss": 0.2, "val_accuracy": 0.95,
                "seconds": 20.0}]  # fmt: skip
    job = TrainingJob.objects.create(
        preset="standard", status="running", epoch=2, epochs=4, epoch_fraction=0.5,
        eta_seconds=50.0, metrics=metrics,
    )  # fmt: skip

    answer = staff.get(f"{URL}{job.pk}/").json()

    assert answer["progress"] == pytest.approx(1.5 / 4)
    assert (answer["epoch"], answer["epochs"], answer["eta_seconds"]) == (2, 4, 50.0)
    assert answer["metrics"] == metrics


def test_cancel_a_queued_job_then_refuse_a_second_cancel(staff):
    job = TrainingJob.objects.create(preset="quick")

    first = staff.post(f"{URL}{job.pk}/cancel/")
    second = staff.post(f"{URL}{job.pk}/cancel/")

    assert first.status_code == 200 and first.json()["status"] == "cancelled"
    assert second.status_code == 409 and second.json()["code"] == "already_finished"
    assert staff.post(f"{URL}999999/cancel/").status_code == 404


def test_a_running_job_is_asked_to_stop(staff):
    job = TrainingJob.objects.create(preset="quick", status="running")

    answer = staff.post(f"{URL}{job.pk}/cancel/").json()

    assert answer["status"] == "running" and answer["cancel_requested"] is True


@pytest.mark.django_db(transaction=True)  # the message is sent on commit, as in production
def test_with_the_broker_down_creating_a_job_is_503_and_leaves_no_queued_job(staff, monkeypatch):
    refuse_tasks(monkeypatch)

    response = staff.post(URL, {"preset": "quick"}, content_type="application/json")

    assert response.status_code == 503
    assert response.json()["code"] == "broker_unavailable"
    assert not TrainingJob.objects.filter(status="queued").exists()
    assert TrainingJob.objects.get().status == "failed"


def test_pen_copies_is_a_training_parameter(staff):
    mnist_alone = staff.post(URL, {"preset": "quick", "pen_copies": 0},
                             content_type="application/json").json()  # fmt: skip
    by_default = staff.post(URL, {"preset": "quick"}, content_type="application/json").json()

    assert mnist_alone["params"]["pen_copies"] == 0
    assert by_default["params"]["pen_copies"] == 2


def test_a_running_job_shows_its_stage(staff):
    job = TrainingJob.objects.create(
        preset="standard", status="running", stage="drawing 11,990 pen-drawn digits"
    )

    answer = staff.get(f"{URL}{job.pk}/").json()
    queued = staff.post(URL, {"preset": "quick"}, content_type="application/json").json()

    assert answer["stage"] == "drawing 11,990 pen-drawn digits"
    assert queued["stage"] == ""
