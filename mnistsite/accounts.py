"""Making sure the site has an administrator account."""

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction


@dataclass(frozen=True)
class AdminAccount:
    username: str
    created: bool
    # Set only when this call generated the password: shown once, never stored.
    generated_password: str | None = None


@transaction.atomic
def admin_account_ensure(*, username: str, password: str | None, email: str = "") -> AdminAccount:
    """Create the superuser `username` unless a superuser already exists.

    With no password given, one is generated and returned so it can be printed
    once. An existing account is left as it is (its password is never reset).
    """
    user_model = get_user_model()
    existing = user_model.objects.filter(username=username).first()
    if existing is not None:
        return AdminAccount(username=username, created=False)
    if password is None:
        other_admin = user_model.objects.filter(is_superuser=True).order_by("pk").first()
        if other_admin is not None:
            return AdminAccount(username=other_admin.get_username(), created=False)
        generated = secrets.token_urlsafe(12)
        user_model.objects.create_superuser(username=username, email=email, password=generated)
        return AdminAccount(username=username, created=True, generated_password=generated)
    user_model.objects.create_superuser(username=username, email=email, password=password)
    return AdminAccount(username=username, created=True)
