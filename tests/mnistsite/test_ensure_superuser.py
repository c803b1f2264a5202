from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.http import HttpRequest

pytestmark = pytest.mark.django_db

User = get_user_model()


def _run(monkeypatch, **env: str) -> str:
    for name in (
        "DJANGO_SUPERUSER_USERNAME",
        "DJANGO_SUPERUSER_PASSWORD",
        "DJANGO_SUPERUSER_EMAIL",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = StringIO()
    call_command("ensure_superuser", stdout=out)
    return out.getvalue()


def test_account_from_the_environment_is_created_with_that_password(monkeypatch, client):
    output = _run(
        monkeypatch,
        DJANGO_SUPERUSER_USERNAME="ops",
        DJANGO_SUPERUSER_PASSWORD="a-long-pass-phrase",
        DJANGO_SUPERUSER_EMAIL="ops@example.org",
    )

    assert "Created admin account 'ops'" in output
    assert "a-long-pass-phrase" not in output
    user = User.objects.get(username="ops")
    assert user.is_superuser and user.is_staff and user.email == "ops@example.org"
    assert client.login(request=HttpRequest(), username="ops", password="a-long-pass-phrase")


def test_without_a_password_one_is_generated_and_printed_only_once(monkeypatch, client):
    first = _run(monkeypatch)
    second = _run(monkeypatch)

    password = first.split("with password ")[1].split()[0]
    assert client.login(request=HttpRequest(), username="admin", password=password)
    assert password not in second
    assert "exists" in second
    assert User.objects.filter(is_superuser=True).count() == 1


def test_an_existing_account_keeps_its_password(monkeypatch, client):
    User.objects.create_superuser(username="ops", password="the-original-one")

    _run(monkeypatch, DJANGO_SUPERUSER_USERNAME="ops", DJANGO_SUPERUSER_PASSWORD="another-one")

    assert client.login(request=HttpRequest(), username="ops", password="the-original-one")


def test_no_second_admin_is_generated_when_a_superuser_already_exists(monkeypatch):
    User.objects.create_superuser(username="first", password="x-long-password")

    output = _run(monkeypatch)

    assert "Admin account 'first' exists" in output
    assert not User.objects.filter(username="admin").exists()
