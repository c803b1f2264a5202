# Loading the Celery app with Django makes `@shared_task` bind to it, so
# enqueueing from a web request uses the configured broker.
from mnistsite.celery import app as celery_app

__all__ = ("celery_app",)
