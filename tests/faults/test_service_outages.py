"""Faults 4 and 5: Redis stopped (and hung), PostgreSQL restarted under
traffic. Predictions do not need the broker; work that does is refused at
once with a clear 503 and nothing is left queued without a message; no
request hangs; everything works again when the service returns."""

import time
from collections import Counter

import numpy as np

from tests.conftest import wait_until
from tests.faults.site import TINY_JOB, Answer, Site, Traffic
from tests.figures import record

COMMAND = "make test ARGS='tests/faults/test_service_outages.py'"
# Longer than this is a hang: the web's Redis and broker timeouts are 1-2 s.
HANG_SECONDS = 5.0


def _broker_down(site: Site) -> bool:
    answer = site.get("/healthz")
    return answer.status == 503 and not answer.body["checks"]["broker"]["ok"]


def _healthy(site: Site) -> bool:
    return site.get("/healthz").status == 200


def _unfinished_work(site: Site) -> list[tuple]:
    return site.sql(
        "SELECT 'job', id, status, error FROM training_trainingjob "
        "WHERE status IN ('queued', 'running') UNION ALL "
        "SELECT 'batch', id, status, error FROM recognizer_inferencebatch "
        "WHERE status IN ('queued', 'running')"
    )


def _work_while_broker_is_out(site: Site, digit_bodies: list[dict], images: np.ndarray):
    """What a visitor, an integrator and staff do while the broker is out."""
    answers: dict[str, list[Answer]] = {
        "prediction": [site.predict(body) for body in digit_bodies[:10]],
        "page": [site.get("/")],
        "training job": [site.create_job(**TINY_JOB)],
        "batch": [site.create_batch(images)],
    }
    return answers


def _check_broker_outage_answers(answers: dict[str, list[Answer]]) -> None:
    assert {a.status for a in answers["prediction"]} == {201}
    assert answers["page"][0].status == 200
    for kind in ("training job", "batch"):
        (answer,) = answers[kind]
        assert answer.status == 503, (kind, answer.body)
        assert answer.body["code"] == "broker_unavailable"
        assert "not answering" in answer.body["message"]


def _job_and_batch_work_again(site: Site, images: np.ndarray) -> tuple[str, str]:
    job = site.create_job(**TINY_JOB)
    batch = site.create_batch(images)
    assert (job.status, batch.status) == (202, 202), (job.body, batch.body)
    job_id, batch_id = job.body["id"], batch.body["id"]
    assert wait_until(
        lambda: site.job(job_id)["status"] not in ("queued", "running"), timeout=240
    ), site.job(job_id)
    assert wait_until(
        lambda: site.batch(batch_id)["status"] not in ("queued", "running"), timeout=120
    ), site.batch(batch_id)
    return site.job(job_id)["status"], site.batch(batch_id)["status"]


def test_fault_4_redis_stopped(site, digit_bodies, mnist_test):
    images = mnist_test[0][:500]
    assert _healthy(site)

    site.redis.stop()
    stopped = time.monotonic()
    assert wait_until(lambda: _broker_down(site), timeout=10, interval=0.05)
    detected_after = time.monotonic() - stopped
    answers = _work_while_broker_is_out(site, digit_bodies, images)
    left_queued = site.value(
        "SELECT (SELECT count(*) FROM training_trainingjob WHERE status = 'queued')"
        " + (SELECT count(*) FROM recognizer_inferencebatch WHERE status = 'queued')"
    )
    site.redis.start()
    restarted = time.monotonic()
    assert wait_until(lambda: _healthy(site), timeout=30, interval=0.1)
    recovered_after = time.monotonic() - restarted
    job_status, batch_status = _job_and_batch_work_again(site, images)

    _check_broker_outage_answers(answers)
    assert detected_after <= 2.0, "healthz tells the broker is down within 2 s"
    assert left_queued == 0, "a refused job or batch is failed with its reason, not queued"
    failed = site.sql(
        "SELECT error FROM training_trainingjob WHERE error LIKE 'Could not be queued%%' "
        "UNION ALL SELECT error FROM recognizer_inferencebatch WHERE error LIKE "
        "'Could not be queued%%'"
    )
    assert len(failed) == 2
    slowest = max(a.seconds for kind in answers.values() for a in kind)
    assert slowest < HANG_SECONDS
    assert (job_status, batch_status) == ("succeeded", "succeeded")
    record(
        "fault-4a",
        title="Redis stopped (refusing connections), then started again",
        command=COMMAND,
        outcome="predictions and pages served; job and batch refused with 503 "
        "broker_unavailable, failed with the reason, none left queued; "
        "after Redis returned a new job and batch succeeded",
        healthz_detected_after_s=round(detected_after, 2),
        predictions_during=len(answers["prediction"]),
        predictions_ok=sum(a.status == 201 for a in answers["prediction"]),
        job_503_s=round(answers["training job"][0].seconds, 2),
        batch_503_s=round(answers["batch"][0].seconds, 2),
        slowest_request_s=round(slowest, 2),
        left_queued=left_queued,
        healthy_again_after_s=round(recovered_after, 1),
    )


def test_fault_4_redis_hung(site, digit_bodies, mnist_test):
    """A Redis that accepts connections and answers nothing (SIGSTOP): the
    web's socket timeouts bound every request."""
    images = mnist_test[0][:500]
    site.redis.pause()
    paused = time.monotonic()
    try:
        assert wait_until(lambda: _broker_down(site), timeout=10, interval=0.05)
        detected_after = time.monotonic() - paused
        answers = _work_while_broker_is_out(site, digit_bodies, images)
    finally:
        site.redis.resume()
    assert wait_until(lambda: _healthy(site), timeout=30, interval=0.1)

    _check_broker_outage_answers(answers)
    assert detected_after <= 2.0
    slowest = max(a.seconds for kind in answers.values() for a in kind)
    assert slowest < HANG_SECONDS, {k: [round(a.seconds, 2) for a in v] for k, v in answers.items()}
    assert wait_until(lambda: not _unfinished_work(site), timeout=30), _unfinished_work(site)
    record(
        "fault-4b",
        title="Redis hung (SIGSTOP: connections accepted, nothing answered)",
        command=COMMAND,
        outcome="as when stopped: every request bounded by the socket timeouts",
        healthz_detected_after_s=round(detected_after, 2),
        slowest_prediction_s=round(max(a.seconds for a in answers["prediction"]), 2),
        job_503_s=round(answers["training job"][0].seconds, 2),
        batch_503_s=round(answers["batch"][0].seconds, 2),
        slowest_request_s=round(slowest, 2),
    )


def test_fault_5_postgres_restarted_under_traffic(site, digit_bodies, mnist_test):
    images = np.resize(mnist_test[0], (10_000, 28, 28))
    submissions_before = site.value("SELECT count(*) FROM recognizer_submission")
    with Traffic(site, digit_bodies, clients=2, pause=0.1) as traffic:
        batch = site.create_batch(images)  # in flight through the restart
        assert batch.status == 202
        assert wait_until(lambda: len(traffic.snapshot()) >= 20, timeout=30)
        site.postgres.stop()
        stopped = time.monotonic()
        assert wait_until(lambda: len(traffic.snapshot()) >= 60, timeout=30)  # the outage
        pages_during = [site.get("/"), site.get("/healthz")]
        site.postgres.start()
        restarted = time.monotonic()
        assert wait_until(lambda: _answered_after(traffic, restarted, 201), timeout=30)
        recovered_after = time.monotonic() - restarted
        assert wait_until(lambda: _answered_after(traffic, restarted + 2, 201), timeout=30)

    answers = traffic.snapshot()
    statuses = Counter(sent.status for sent in answers)
    assert set(statuses) <= {201, 503}, statuses
    assert statuses[503] > 0, "the outage was seen"
    after = [
        s.answer for s in answers if s.answer and s.answer.started > restarted + recovered_after
    ]
    assert after and {a.status for a in after} == {201}
    assert max(s.answer.seconds for s in answers if s.answer) < HANG_SECONDS
    for answer in pages_during:
        assert answer.status == 503, (answer.status, answer.body)
    created = {s.answer.body["id"] for s in answers if s.status == 201}
    stored = site.value(
        "SELECT count(*) FROM recognizer_submission WHERE id = ANY(%s)", list(created)
    )
    assert stored == len(created), "every 201 is a stored row"
    assert site.value("SELECT count(*) FROM recognizer_submission") - submissions_before == (
        len(created) + site.value(
            "SELECT count(*) FROM recognizer_batchresult WHERE batch_id = %s "
            "AND submission_id IS NOT NULL", batch.body["id"],
        )
    ), "no row stored for an answer that was an error"  # fmt: skip
    assert wait_until(lambda: not _unfinished_work(site), timeout=120), _unfinished_work(site)
    final = site.batch(batch.body["id"])
    rows = site.value(
        "SELECT count(DISTINCT index) FROM recognizer_batchresult WHERE batch_id = %s",
        batch.body["id"],
    )
    assert final["status"] == "succeeded" and rows == final["total"] == 10_000, final
    record(
        "fault-5",
        title="PostgreSQL stopped and started under traffic (2 clients, a batch in flight)",
        command=COMMAND,
        outcome="503 during the outage (API, page, healthz), no other error, no hang; "
        "201s again after it; the batch resumed and finished; no stuck jobs",
        outage_s=round(restarted - stopped, 1),
        requests=len(answers),
        answered_201=statuses[201],
        answered_503=statuses[503],
        other_errors=sum(n for s, n in statuses.items() if s not in (201, 503)),
        serving_again_after_s=round(recovered_after, 2),
        slowest_request_s=round(max(s.answer.seconds for s in answers if s.answer), 2),
        batch_attempts=final["attempts"],
        batch_results=rows,
    )


def _answered_after(traffic: Traffic, moment: float, status: int) -> bool:
    return any(
        s.answer and s.answer.started > moment and s.status == status for s in traffic.snapshot()
    )
