import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mnistsite.settings")

application = get_wsgi_application()


def _warm_up_predictor() -> None:
    """Load the active model before this process takes its first request, so
    no visitor waits for TensorFlow (gunicorn imports this in each worker)."""
    from django.conf import settings
    from django.db import connections

    if not settings.PREDICTOR_WARM_ON_START:
        return
    from recognizer.predictor import predictor

    try:
        predictor().warm_up()
    except Exception:  # a database down at start must not stop the server
        import logging

        logging.getLogger(__name__).exception("predictor warm-up failed; loading on first request")
    finally:
        connections.close_all()


_warm_up_predictor()
