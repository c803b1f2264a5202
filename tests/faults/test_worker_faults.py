"""Faults 1 to 3: workers killed with SIGKILL mid-task, and a task message
delivered twice. Nothing is lost, nothing is done twice, nothing is half-made,
and the web keeps serving the active model throughout."""

import time

import numpy as np

from mnistsite.celery import app as celery_app
from recognizer.tasks import batch_run_task
from tests.conftest import wait_until
from tests.faults.site import TINY_JOB, Site, Traffic
from tests.figures import record
from training.tasks import train_job_task

COMMAND = "make test ARGS='tests/faults/test_worker_faults.py'"
BATCH_SIZE = 10_000  # the largest batch the API takes


def _store_files(site: Site) -> list[str]:
    return sorted(str(path.relative_to(site.model_store)) for path in site.model_store.rglob("*"))


def _active_version(site: Site) -> int:
    return site.value("SELECT version FROM training_modelversion WHERE is_active")


def _batch_images(mnist_test, count: int) -> np.ndarray:
    images, _ = mnist_test
    return np.resize(images, (count, 28, 28))


def _results(site: Site, batch_id: int) -> tuple[int, int, int, int]:
    """Result rows, distinct item indexes, and the submissions they point to."""
    return site.sql(
        "SELECT count(*), count(DISTINCT index), count(submission_id), "
        "count(DISTINCT submission_id) FROM recognizer_batchresult WHERE batch_id = %s",
        batch_id,
    )[0]


def test_fault_1_training_worker_killed_mid_epoch(site, digit_bodies):
    versions_before = site.value("SELECT count(*) FROM training_modelversion")
    files_before = _store_files(site)
    serving = _active_version(site)

    with Traffic(site, digit_bodies, clients=1, pause=0.1) as traffic:
        answer = site.create_job(**{**TINY_JOB, "epochs": 2, "max_train_samples": 20_000})
        assert answer.status == 202, answer.body
        job_id = answer.body["id"]

        def training_mid_epoch() -> bool:
            job = site.job(job_id)
            return job["status"] == "running" and 0 < job["epoch_fraction"] < 0.9

        assert wait_until(training_mid_epoch, timeout=180, interval=0.1), site.job(job_id)
        epoch, fraction = site.job(job_id)["epoch"], site.job(job_id)["epoch_fraction"]
        site.kill("worker-training")
        killed = time.monotonic()
        assert wait_until(lambda: site.job(job_id)["status"] != "running", timeout=60)
        detected_after = time.monotonic() - killed

    job = site.job(job_id)
    assert job["status"] == "failed"
    assert "No heartbeat" in job["error"]
    executions = job["log"].count("started on")
    assert executions == 1
    assert site.value("SELECT count(*) FROM training_modelversion") == versions_before
    assert _store_files(site) == files_before, "no artifact, not even a partial one"
    answers = traffic.snapshot()
    statuses = [sent.status for sent in answers]
    assert statuses and set(statuses) == {201}
    assert {sent.answer.body["model_version"] for sent in answers} == {serving}
    record(
        "fault-1",
        title="Training worker SIGKILLed mid-epoch",
        command=COMMAND,
        outcome="job failed by the reaper with its reason; no version or artifact; "
        "predictions unaffected",
        killed_in_epoch=f"{epoch} at {fraction:.0%}",
        detected_after_s=round(detected_after, 1),
        reaper_threshold_s=int(site.env["TRAINING_STALE_AFTER_SECONDS"]),
        executions=executions,
        final_state=job["status"],
        predictions_during=len(answers),
        failed_predictions=sum(status != 201 for status in statuses),
    )


def test_fault_2_batch_worker_killed_mid_batch(site, mnist_test):
    submissions_before = site.value(
        "SELECT count(*) FROM recognizer_submission WHERE source = 'batch'"
    )
    answer = site.create_batch(_batch_images(mnist_test, BATCH_SIZE))
    assert answer.status == 202, answer.body
    batch_id = answer.body["id"]

    def part_done() -> bool:
        batch = site.batch(batch_id)
        return batch["status"] == "running" and 0 < batch["processed"] < BATCH_SIZE // 2

    assert wait_until(part_done, timeout=180, interval=0.05), site.batch(batch_id)
    site.kill("worker")
    killed = time.monotonic()
    processed_at_kill = site.batch(batch_id)["processed"]
    site.restart("worker")  # as a supervisor restarts it
    assert wait_until(lambda: site.batch(batch_id)["processed"] > processed_at_kill, timeout=120), (
        site.batch(batch_id)
    )
    resumed_after = time.monotonic() - killed
    assert wait_until(lambda: site.batch(batch_id)["status"] != "running", timeout=120)

    batch = site.batch(batch_id)
    assert batch["status"] == "succeeded", batch
    assert batch["processed"] == batch["total"] == BATCH_SIZE
    assert batch["attempts"] == 2
    rows, indexes, with_submission, submissions = _results(site, batch_id)
    assert rows == indexes == with_submission == submissions == BATCH_SIZE
    stored = site.value("SELECT count(*) FROM recognizer_submission WHERE source = 'batch'")
    assert stored - submissions_before == BATCH_SIZE, "no submission from the lost chunk"
    record(
        "fault-2",
        title=f"Batch worker SIGKILLed mid-batch ({BATCH_SIZE:,} images)",
        command=COMMAND,
        outcome="resumed after its last stored chunk and succeeded; one result per item",
        processed_at_kill=processed_at_kill,
        resumed_after_s=round(resumed_after, 1),
        attempts=batch["attempts"],
        results=rows,
        lost=BATCH_SIZE - indexes,
        doubled=rows - indexes,
    )


def test_fault_3_the_same_task_message_delivered_twice(site, mnist_test):
    versions_before = site.value("SELECT count(*) FROM training_modelversion")
    job_id = site.create_job(**TINY_JOB).body["id"]
    batch_id = site.create_batch(_batch_images(mnist_test, 3000)).body["id"]
    job_task = site.value("SELECT celery_task_id FROM training_trainingjob WHERE id = %s", job_id)
    batch_task = site.value(
        "SELECT celery_task_id FROM recognizer_inferencebatch WHERE id = %s", batch_id
    )
    # The same messages again (same task, arguments and id), as a broker redelivers them.
    with celery_app.connection_for_write(site.broker_url) as connection:
        train_job_task.apply_async(args=[job_id], task_id=job_task, connection=connection)
        batch_run_task.apply_async(args=[batch_id], task_id=batch_task, connection=connection)

    def both_deliveries_done(log: str, name: str, task_id: str) -> bool:
        text = (site.logs / log).read_text()
        return text.count(f"Task {name}[{task_id}] succeeded") == 2

    assert wait_until(
        lambda: both_deliveries_done("worker-training.log", "training.tasks.train_job_task",
                                     job_task), timeout=240, interval=0.5,
    ), (site.logs / "worker-training.log").read_text()[-3000:]  # fmt: skip
    assert wait_until(
        lambda: both_deliveries_done("worker.log", "recognizer.tasks.batch_run_task", batch_task),
        timeout=120,
        interval=0.5,
    )

    job = site.job(job_id)
    assert job["status"] == "succeeded" and job["log"].count("started on") == 1
    assert site.value("SELECT count(*) FROM training_modelversion") == versions_before + 1
    batch = site.batch(batch_id)
    assert batch["status"] == "succeeded" and batch["attempts"] == 1
    rows, indexes, _, submissions = _results(site, batch_id)
    assert rows == indexes == submissions == 3000
    record(
        "fault-3",
        title="The same task message delivered twice (training job; batch of 3,000)",
        command=COMMAND,
        outcome="each message received and acknowledged twice; the second claim did nothing",
        training_runs=job["log"].count("started on"),
        versions_made=1,
        batch_attempts=batch["attempts"],
        batch_results=rows,
        doubled=rows - indexes,
    )
