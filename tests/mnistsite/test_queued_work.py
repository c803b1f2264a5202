"""Work is sent by task name (mnistsite/queued_work.py): every name the
services send must be a task the workers have, on the queue meant for it."""

from django.conf import settings

import recognizer.tasks
import training.tasks
from mnistsite.celery import app
from recognizer.models import InferenceBatch
from recognizer.services import batches
from training.models import TrainingJob
from training.services import jobs

SENT_BY_NAME = {
    jobs.TRAIN_TASK: training.tasks.train_job_task,
    batches.RUN_TASK: recognizer.tasks.batch_run_task,
    batches.CALLBACK_TASK: recognizer.tasks.batch_callback_task,
}


def test_every_task_name_the_services_send_is_a_registered_task():
    for name, task in SENT_BY_NAME.items():
        assert app.tasks[name] == task  # (the module attribute is a proxy of it)


def test_work_is_routed_to_its_workers_queue_by_name():
    routes = settings.CELERY_TASK_ROUTES
    assert routes[jobs.TRAIN_TASK] == {"queue": "training"}
    assert routes[batches.RUN_TASK] == {"queue": "inference"}


def test_both_kinds_of_work_share_one_life():
    for model in (TrainingJob, InferenceBatch):
        names = {field.name for field in model._meta.get_fields()}
        assert {"status", "celery_task_id", "heartbeat_at", "cancel_requested", "error"} <= names
        constraints = {constraint.name for constraint in model._meta.constraints}
        assert f"{model._meta.app_label}_{model._meta.model_name}_status_valid" in constraints
