"""Faults 6 and 7: a model activated under load (no failed request, every
answer from the version it names, every web process switched within 2 s),
and two training jobs requested at once (they run one after the other)."""

import numpy as np
import pytest

from tests.conftest import wait_until
from tests.faults.site import TINY_JOB, Site, Traffic
from tests.figures import record

COMMAND = "make test ARGS='tests/faults/test_models_and_jobs.py'"
SWITCH_SECONDS = 2.0


def _active_version(site: Site) -> int:
    return site.value("SELECT version FROM training_modelversion WHERE is_active")


@pytest.fixture(scope="module")
def spare_version(site: Site) -> int:
    """A trained version that is not active (a tiny job's, if none exists yet)."""
    spare = site.sql("SELECT version FROM training_modelversion WHERE NOT is_active")
    if spare:
        return spare[0][0]
    job_id = site.create_job(**TINY_JOB).body["id"]
    assert wait_until(lambda: site.job(job_id)["version"] is not None, timeout=240)
    return site.job(job_id)["version"]


def _probabilities_by_version(site: Site, versions, bodies: list[dict]) -> dict[int, np.ndarray]:
    """What each version answers for each body, computed here, independently
    of the site: the same preprocessing, each artifact loaded from its file."""
    from recognizer.imaging.decoding import ImageLimits
    from recognizer.imaging.inputs import input_from_base64
    from training.ml.artifacts import artifact_load

    images = np.stack(
        [input_from_base64(body["image"], ImageLimits(max_bytes=10**7)).image28 for body in bodies]
    )[..., None]
    expected = {}
    for version in versions:
        path, sha256 = site.sql(
            "SELECT artifact_path, artifact_sha256 FROM training_modelversion WHERE version = %s",
            version,
        )[0]
        model = artifact_load(site.model_store / path, sha256)
        expected[version] = np.asarray(model(images, training=False))
    return expected


def _web_process_of_each_request(site: Site) -> dict[str, str]:
    """From gunicorn's access log: request id -> the worker process's pid."""
    pids = {}
    for line in (site.logs / "access.log").read_text().splitlines():
        pid, request_id, _status = line.split(" ")
        pids[request_id] = pid
    return pids


def test_fault_6_model_swap_under_load(site, digit_bodies, spare_version):
    old, new = _active_version(site), spare_version
    expected = _probabilities_by_version(site, (old, new), digit_bodies)
    with Traffic(site, digit_bodies, clients=4, pause=0) as traffic:
        assert wait_until(lambda: len(traffic.snapshot()) >= 50, timeout=60)
        activation = site.request(
            "POST", f"/api/v1/models/{new}/activate/", json_body={}, token=True
        )
        assert activation.status == 200, activation.body
        activated = activation.started
        assert wait_until(
            lambda: traffic.count_started_after(activated + SWITCH_SECONDS + 1) >= 100,
            timeout=60,
        )
    site.request("POST", f"/api/v1/models/{old}/activate/", json_body={}, token=True)

    answers = traffic.snapshot()
    assert {sent.status for sent in answers} == {201}, "no request failed during the swap"
    for sent in answers:
        body = sent.answer.body
        assert body["model_version"] in (old, new)
        produced_by = expected[body["model_version"]][sent.body_index]
        np.testing.assert_allclose(body["probabilities"], produced_by, atol=2e-4)
    pids = _web_process_of_each_request(site)
    assert all(sent.request_id in pids for sent in answers)
    switch_by_process = {}
    for pid in {pids[sent.request_id] for sent in answers}:
        old_answers = [
            sent.answer for sent in answers
            if pids[sent.request_id] == pid and sent.answer.body["model_version"] == old
        ]  # fmt: skip
        # Upper bound: the last old answer's end, from the activation request's start.
        last_old = max(a.started + a.seconds for a in old_answers)
        switch_by_process[pid] = max(0.0, last_old - activated)
    assert len(switch_by_process) == 2, "both web processes answered"
    assert max(switch_by_process.values()) <= SWITCH_SECONDS, switch_by_process
    record(
        "fault-6",
        title="Model activated under load (4 clients, 2 gunicorn processes)",
        command=COMMAND,
        outcome="0 failed requests; every answer's probabilities are those of the version it "
        "names; both processes switched",
        requests=len(answers),
        failed=sum(sent.status != 201 for sent in answers),
        answers_from_old=sum(sent.answer.body["model_version"] == old for sent in answers),
        answers_from_new=sum(sent.answer.body["model_version"] == new for sent in answers),
        slowest_switch_s=round(max(switch_by_process.values()), 2),
        switch_limit_s=SWITCH_SECONDS,
    )


def test_fault_7_two_training_jobs_requested_at_once(site):
    site.restart("worker-training-2")  # two workers could each take one
    versions_before = site.value("SELECT count(*) FROM training_modelversion")
    first = site.create_job(**TINY_JOB).body["id"]
    second = site.create_job(**TINY_JOB).body["id"]
    both = (first, second)

    assert wait_until(
        lambda: all(site.job(job)["status"] not in ("queued", "running") for job in both),
        timeout=300,
        interval=0.5,
    ), [site.job(job) for job in both]

    jobs = sorted((site.job(job) | {"id": job} for job in both), key=lambda j: j["started_at"])
    assert [job["status"] for job in jobs] == ["succeeded", "succeeded"]
    gap = (jobs[1]["started_at"] - jobs[0]["finished_at"]).total_seconds()
    assert gap >= 0, "the second started after the first had finished"
    waited = f"waiting: training job {jobs[0]['id']} is running" in jobs[1]["log"]
    worker_logs = [(site.logs / f"{name}.log").read_text() for name in
                   ("worker-training", "worker-training-2")]  # fmt: skip
    taken_by_both = all("train_job_task" in log.split("ready.")[-1] for log in worker_logs)
    versions = [job["version"] for job in jobs]
    assert len(set(versions)) == 2 and None not in versions
    assert site.value("SELECT count(*) FROM training_modelversion") == versions_before + 2
    record(
        "fault-7",
        title="Two training jobs requested at once, two training workers",
        command=COMMAND,
        outcome="one after the other (a database constraint allows one running job; "
        "the second waits and retries); two versions, distinct numbers",
        overlap_s=max(0.0, -gap),
        second_started_after_first_finished_s=round(gap, 1),
        second_waited_for_first="yes" if waited else "no (queued behind it)",
        each_worker_took_one="yes" if taken_by_both else "no",
        versions=" and ".join(f"v{v}" for v in versions),
    )
