"""Admin logins are locked out after LOGIN_FAILURE_LIMIT failures for one
user name, or from one client address: further attempts are 429 with
Retry-After and a clear message, even with the right password, until the
cool-off has passed. A successful login clears the count."""

import time
from datetime import timedelta

import pytest
from django.test import Client

from tests.figures import record

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "the right password 7"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser(username="staff", password=PASSWORD)


def log_in(username: str, password: str, *, address: str = "10.0.0.1"):
    client = Client(REMOTE_ADDR=address)
    response = client.post(
        LOGIN, {"username": username, "password": password, "next": "/admin/"}, secure=True
    )
    return response, client


def logged_in(client: Client) -> bool:
    return client.get("/admin/", secure=True).status_code == 200


@pytest.mark.django_db
def test_the_right_password_is_refused_after_the_limit_of_failures_for_the_user_name(
    staff, settings
):
    answers = [log_in("staff", "wrong")[0].status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
    # The form again ("enter a correct user name..."), until the failure that
    # reaches the limit: that one is already the lockout.
    assert answers == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]

    response, client = log_in("staff", PASSWORD)

    assert response.status_code == 429
    assert response["Retry-After"] == str(15 * 60)
    assert b"Too many failed logins" in response.content
    assert b"15 minutes" in response.content
    assert not logged_in(client)
    record(
        "security-7",
        title="Admin login after repeated wrong passwords",
        command="make test ARGS='tests/security/test_login_lockout.py'",
        outcome=f"{answers.count(200)} wrong passwords answered by the form, the "
        f"{len(answers)}th and then the right one refused 429 with Retry-After (by user "
        "name, and by address)",
        failures_allowed=answers.count(200),
        lockout_status=response.status_code,
        retry_after_seconds=int(response["Retry-After"]),
    )


@pytest.mark.django_db
def test_the_user_name_is_locked_from_every_address(staff, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        log_in("staff", "wrong", address=f"10.0.1.{attempt}")

    response, client = log_in("staff", PASSWORD, address="10.0.2.1")

    assert response.status_code == 429
    assert not logged_in(client)


@pytest.mark.django_db
def test_an_address_trying_many_user_names_is_locked_for_all_of_them(staff, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        log_in(f"guess-{attempt}", "wrong", address="10.0.3.1")

    locked, _ = log_in("staff", PASSWORD, address="10.0.3.1")
    elsewhere, client = log_in("staff", PASSWORD, address="10.0.3.2")

    assert locked.status_code == 429
    assert elsewhere.status_code == 302 and logged_in(client)


@pytest.mark.django_db
def test_a_successful_login_clears_the_count(staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in("staff", "wrong")
    ok, _ = log_in("staff", PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in("staff", "wrong")

    response, client = log_in("staff", PASSWORD)

    assert ok.status_code == 302
    assert response.status_code == 302 and logged_in(client)


@pytest.mark.django_db
def test_after_the_cool_off_the_right_password_works_again(staff, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in("staff", "wrong")
    assert log_in("staff", PASSWORD)[0].status_code == 429

    time.sleep(1.2)
    response, client = log_in("staff", PASSWORD)

    assert response.status_code == 302 and logged_in(client)
