"""Object stores for tests: moto's S3 server on loopback, spoken to by
django-storages and boto3 as production would speak to S3 or MinIO; and
Django's in-memory storage with a switch to take it down."""

import uuid

import boto3
from django.core.files.storage import InMemoryStorage
from moto.server import ThreadedMotoServer

from mnistsite.object_storage import s3_storage
from tests.harness.processes import free_port


class S3Store:
    """moto's S3 server on loopback, with an empty bucket of its own (moto
    keeps its buckets in memory for as long as the test process lives)."""

    def __init__(self, *, overwrite: bool = False) -> None:
        self.bucket = bucket = f"bucket-{uuid.uuid4().hex[:12]}"
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self.client = boto3.client(
            "s3", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        self.client.create_bucket(Bucket=bucket)
        self.backend = s3_storage(
            bucket, endpoint_url=self.url, region="us-east-1",
            access_key="testing", secret_key="testing", timeout_seconds=1, overwrite=overwrite,
        )  # fmt: skip
        self.running = True

    def keys(self) -> set[str]:
        listed = self.client.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        return {item["Key"] for item in listed}

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def take_down(self) -> None:
        self.server.stop()
        self.running = False

    def close(self) -> None:
        if self.running:
            self.server.stop()


class FlakyStorage(InMemoryStorage):
    """Object storage stand-in: files in memory, and a switch (`down`) to
    take every store of this kind down."""

    down = False

    def _check_up(self) -> None:
        if FlakyStorage.down:
            raise ConnectionError("the object store is not answering")

    def exists(self, name):
        self._check_up()
        return super().exists(name)

    def _open(self, name, mode="rb"):
        self._check_up()
        return super()._open(name, mode)

    def _save(self, name, content):
        self._check_up()
        return super()._save(name, content)


class MemoryStore:
    """A FlakyStorage as a STORAGES entry, with S3Store's take_down/close."""

    backend = {"BACKEND": "tests.object_store.FlakyStorage"}

    def take_down(self) -> None:
        FlakyStorage.down = True

    def close(self) -> None:
        FlakyStorage.down = False
