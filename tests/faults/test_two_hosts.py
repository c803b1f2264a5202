"""Two hosts of one site: their own processes, their own local folders and
model caches, one PostgreSQL, one Redis, and model files and submission
images in S3 (moto's server, started here, on loopback). Host A trains; host B serves predictions
and runs batches with what A trained. Then the object store goes down."""

import subprocess
import sys
import time
from collections.abc import Iterator

import boto3
import pytest

from tests.conftest import wait_until
from tests.faults.site import Site
from tests.figures import record
from tests.harness import processes as harness

BUCKET = "mnistsite-models"
IMAGES = "mnistsite-submissions"
KEYS = {"OBJECT_STORAGE_ACCESS_KEY_ID": "hosts", "OBJECT_STORAGE_SECRET_ACCESS_KEY": "hosts-secret"}
# PREDICTOR_REFRESH_SECONDS as in production, plus fetching and loading the
# new version on a busy 2-core machine.
HOT_SWAP_SECONDS = 30
COMMAND = "make test ARGS='tests/faults/test_two_hosts.py'"


class ObjectStore:
    """moto's S3 server as a process of its own, so that it can be stopped."""

    def __init__(self, log) -> None:
        self.port = harness.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.process = harness.start(command, env={"PATH": "/usr/bin:/bin"}, log=self.log)
        assert wait_until(self._answers, timeout=30, interval=0.2), self.log.read_text()

    def _answers(self) -> bool:
        try:
            self.client().list_buckets()
        except Exception:
            return False
        return True

    def client(self):
        return boto3.client(
            "s3", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id=KEYS["OBJECT_STORAGE_ACCESS_KEY_ID"],
            aws_secret_access_key=KEYS["OBJECT_STORAGE_SECRET_ACCESS_KEY"],
        )  # fmt: skip

    def stored(self, bucket: str = BUCKET) -> set[str]:
        listing = self.client().list_objects_v2(Bucket=bucket)
        return {item["Key"] for item in listing.get("Contents", [])}

    def stop(self) -> None:
        if self.process is not None:
            harness.stop(self.process, timeout=10)
            self.process = None


@pytest.fixture(scope="module")
def hosts(site, tmp_path_factory) -> Iterator[tuple[Site, Site, ObjectStore]]:
    """Host A (worker-training) and host B (web, worker), on the fault tests'
    PostgreSQL and Redis (a database and Redis databases of their own)."""
    workdir = tmp_path_factory.mktemp("two-hosts")
    store = ObjectStore(workdir / "moto.log")
    store.start()
    store.client().create_bucket(Bucket=BUCKET)
    store.client().create_bucket(Bucket=IMAGES)
    shared = {
        "database": "hosts",
        "redis_databases": (2, 3),
        "MODEL_STORE_BUCKET": BUCKET,
        "SUBMISSION_STORE_BUCKET": IMAGES,
        "OBJECT_STORAGE_ENDPOINT_URL": store.url,
        "OBJECT_STORAGE_REGION": "us-east-1",
        "OBJECT_STORAGE_TIMEOUT_SECONDS": "1",
        "TRAINING_ACTIVATION_POLICY": "manual",
        **KEYS,
    }
    host_a = Site(workdir / "host-a", site.postgres, site.redis, **shared)
    host_b = Site(workdir / "host-b", site.postgres, site.redis, **shared)
    try:
        host_a.install()  # the bundled model goes to the bucket from host A
        host_b.token = host_a.token
        host_a.start_all(("worker-training",))
        host_b.start_all(("web", "worker"))
        yield host_a, host_b, store
    finally:
        host_a.stop_all()
        host_b.stop_all()
        store.stop()


def trained_version(host: Site) -> int:
    """A tiny job asked of the site through `host`'s API, trained by whichever
    host runs a training worker: the version it registered."""
    job = host.create_job()
    assert job.status == 202, job.body
    finished = ("succeeded", "failed", "cancelled")
    assert wait_until(lambda: host.job(job.body["id"])["status"] in finished, timeout=240)
    trained = host.job(job.body["id"])
    assert trained["status"] == "succeeded", trained
    return trained["version"]


def answered_by(host: Site, body: dict) -> int:
    answer = host.predict(body)
    assert answer.status == 201, answer.body
    return answer.body["model_version"]


def test_a_version_trained_on_one_host_serves_and_runs_batches_on_another(hosts, digit_bodies):
    host_a, host_b, store = hosts
    assert any(key.startswith("bundled-") for key in store.stored())
    for host in (host_a, host_b):  # no model or image folder anywhere
        assert not (host.workdir / "models").exists()
        assert not (host.workdir / "var" / "media").exists()
    assert answered_by(host_b, digit_bodies[0]) == 1

    version = trained_version(host_b)
    files = host_a.sql(
        "SELECT artifact_path, compiled_path FROM training_modelversion WHERE version = %s",
        version,
    )[0]
    assert set(files) <= store.stored()
    activated = host_b.request("POST", f"/api/v1/models/{version}/activate/", token=True)
    assert activated.status == 200, activated.body
    activated_at = time.monotonic()

    # Ten answers in a row from the new version: both web processes swapped.
    assert wait_until(
        lambda: all(answered_by(host_b, body) == version for body in digit_bodies[:10]),
        timeout=HOT_SWAP_SECONDS,
        interval=0.2,
    )
    swapped_after = time.monotonic() - activated_at
    health = host_b.get("/healthz").body["checks"]["model"]
    assert health["active_version"] == version
    cache_b = host_b.workdir / "var" / "model-cache"
    assert set(files) <= {path.name for path in cache_b.iterdir()}

    items = [{"image": body["image"]} for body in digit_bodies[:3]]
    batch = host_b.request("POST", "/api/v1/batches/", json_body={"items": items}, token=True)
    assert batch.status == 202, batch.body
    assert batch.body["model_version"] == version
    batch_id = batch.body["id"]
    assert wait_until(lambda: host_b.batch(batch_id)["status"] == "succeeded", timeout=60), (
        host_b.batch(batch_id)
    )
    images = host_a.sql("SELECT image, preprocessed FROM recognizer_submission")
    assert len(images) >= 13 and {key for row in images for key in row} <= store.stored(IMAGES)
    assert not (host_b.workdir / "var" / "media").exists()
    record(
        "hosts-1",
        title="Two hosts, model files and images in S3: trained on one, served and batched "
        "on the other",
        outcome=f"v{version} trained by host A's worker, served by both of host B's web processes "
        f"{swapped_after:.1f} s after its activation and used by host B's batch worker; "
        f"no model or image folder on either host ({len(images)} submissions' images in S3)",
        command=COMMAND,
        swap_seconds=round(swapped_after, 1),
    )


def test_with_the_object_store_down_cached_versions_serve_and_a_new_one_fails_cleanly(
    hosts, digit_bodies
):
    _, host_b, store = hosts
    serving = answered_by(host_b, digit_bodies[0])
    # A version whose files are in the store only: trained on host A, not yet
    # activated, so host B has never fetched it.
    new = trained_version(host_b)
    store.stop()

    activated = host_b.request("POST", f"/api/v1/models/{new}/activate/", token=True)
    assert activated.status == 200, activated.body
    reason = f"v{new} could not be loaded: the model store is not answering"

    def says_why() -> bool:
        answered_by(host_b, digit_bodies[2])  # a request makes the process look up the version
        return host_b.get("/healthz").body["checks"]["model"].get("load_error") == reason

    assert wait_until(says_why, timeout=30, interval=0.5), host_b.get("/healthz").body
    answers = [host_b.predict(body) for body in digit_bodies[:10]]
    assert [answer.status for answer in answers] == [201] * 10
    assert {answer.body["model_version"] for answer in answers} == {serving}
    # Their images wait in the database for the store (beat's flush task).
    waiting = host_b.value(
        "SELECT count(*) FROM recognizer_pendingimage p JOIN recognizer_submission s "
        "ON p.key IN (s.image, s.preprocessed) WHERE s.id = ANY(%s)",
        [answer.body["id"] for answer in answers],
    )
    assert waiting == 20
    record(
        "hosts-2",
        title="Two hosts: the object store stopped, then a new version activated",
        outcome=f"predictions went on with the cached v{serving} (10 of 10 answered 201); "
        f"v{new} was not loaded and /healthz said '{reason.split(': ', 1)[1]}'; "
        f"their {waiting} image files waited in the database for the store",
        command=COMMAND,
    )
