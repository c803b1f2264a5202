from django.core.management.base import BaseCommand

from mnistsite.accounts import admin_account_ensure
from mnistsite.env import env_str


class Command(BaseCommand):
    help = (
        "Make sure an admin account exists: DJANGO_SUPERUSER_USERNAME/PASSWORD/EMAIL "
        "when set, otherwise 'admin' with a generated password printed once."
    )

    def handle(self, *args, **options) -> None:
        account = admin_account_ensure(
            username=env_str("DJANGO_SUPERUSER_USERNAME", "admin"),
            password=env_str("DJANGO_SUPERUSER_PASSWORD") or None,
            email=env_str("DJANGO_SUPERUSER_EMAIL"),
        )
        if account.generated_password:
            self.stdout.write(
                self.style.WARNING(
                    f"Created admin account '{account.username}' with password "
                    f"{account.generated_password}\n"
                    "It is shown only this once; change it in the admin."
                )
            )
        elif account.created:
            self.stdout.write(f"Created admin account '{account.username}'.")
        else:
            self.stdout.write(f"Admin account '{account.username}' exists.")
