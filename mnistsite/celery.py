"""The Celery app. Its configuration is the CELERY_* part of settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mnistsite.settings")

app = Celery("mnistsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
