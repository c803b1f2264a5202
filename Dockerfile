# One image for web, worker, worker-training and beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first (the project's own packages are empty here and removed
# again), so code changes do not reinstall TensorFlow.
COPY pyproject.toml README.md ./
RUN mkdir mnistsite recognizer training \
    && pip install . \
    && pip uninstall -y mnistsite

# The code runs from /app (not site-packages), where templates/ and static/ are.
ENV PYTHONPATH=/app
COPY . .
RUN DJANGO_SECRET_KEY=collectstatic-only DJANGO_VAR_DIR=/tmp/build-var \
        python manage.py collectstatic --noinput \
    && useradd --create-home --uid 1000 app \
    && mkdir -p /data/var /data/media /data/models /data/mnist \
    && chown -R app:app /data

USER app
EXPOSE 8000
CMD ["gunicorn", "mnistsite.wsgi:application", "--bind", "0.0.0.0:8000"]
