"""Model files through the `models` storage (training/model_store.py): in
place in the default folder; through a verified local copy on each host when
the storage is elsewhere. "Elsewhere" is an S3 server (moto's, on loopback,
spoken to by django-storages and boto3 as production would) and Django's
in-memory storage; two "hosts" share it, each with its own MODEL_CACHE_DIR."""

import hashlib
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command

from recognizer.predictor import ModelUnavailable, load_model, model_ref_for_version
from tests.object_store import MemoryStore, S3Store
from training.bundle import bundled_model_install
from training.ml.artifacts import Artifact, ArtifactError, compiled_read
from training.model_store import (
    model_local_path,
    model_publish,
    model_storage,
    writing_dir,
)
from training.models import ModelVersion


@pytest.fixture(params=["s3", "memory"])
def remote(request, settings, tmp_path):
    """Object storage for models; returns a function that makes this process
    "host A", "host B"... (each its own local cache). `remote.store` can be
    taken down."""
    store = S3Store() if request.param == "s3" else MemoryStore()
    settings.STORAGES = {**settings.STORAGES, "models": store.backend}

    def host(name: str):
        settings.MODEL_CACHE_DIR = tmp_path / f"cache-{name}"
        return settings.MODEL_CACHE_DIR

    host.store = store
    host("a")
    yield host
    store.close()


def a_file(folder, name: str, data: bytes) -> Artifact:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return Artifact(path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def test_by_default_the_store_is_the_model_folder_and_files_stay_in_place(settings, tmp_path):
    settings.MODEL_STORE_DIR = tmp_path / "models"
    artifact = a_file(writing_dir(), "v3-abc.keras", b"model bytes")

    key = model_publish(artifact)

    assert writing_dir() == tmp_path / "models"
    assert key == "v3-abc.keras"
    assert model_local_path(key, artifact.sha256) == artifact.path


def test_a_file_published_on_one_host_is_read_on_another(remote):
    artifact = a_file(writing_dir(), "v2-0123.keras", b"the weights")
    key = model_publish(artifact)

    cache_b = remote("b")
    local = model_local_path(key, artifact.sha256)

    assert model_storage().open(key).read() == b"the weights"
    assert local == cache_b / key and local.read_bytes() == b"the weights"


def test_publishing_a_key_twice_uploads_it_once(remote):
    artifact = a_file(writing_dir(), "v2-0123.keras", b"the weights")

    assert model_publish(artifact) == model_publish(artifact) == "v2-0123.keras"
    assert model_storage().listdir("")[1] == ["v2-0123.keras"]  # not also a renamed copy


def test_a_corrupt_local_copy_is_fetched_again(remote):
    key = model_publish(a_file(writing_dir(), "v2-0123.keras", b"the weights"))
    sha256 = hashlib.sha256(b"the weights").hexdigest()
    remote("b")
    local = model_local_path(key, sha256)
    local.write_bytes(b"the weightz")

    assert model_local_path(key, sha256).read_bytes() == b"the weights"


def test_a_corrupt_stored_file_is_refused_and_not_cached(remote):
    sha256 = hashlib.sha256(b"the weights").hexdigest()
    model_storage().save("v2-0123.keras", ContentFile(b"tampered"))
    cache_b = remote("b")

    with pytest.raises(ArtifactError, match="registered as"):
        model_local_path("v2-0123.keras", sha256)
    assert not cache_b.exists() or list(cache_b.iterdir()) == []


def test_with_the_store_down_a_cached_copy_still_serves_and_a_missing_one_fails_cleanly(
    remote,
):
    key = model_publish(a_file(writing_dir(), "v2-0123.keras", b"the weights"))
    sha256 = hashlib.sha256(b"the weights").hexdigest()
    remote.store.take_down()

    assert model_local_path(key, sha256).read_bytes() == b"the weights"  # host A's copy
    remote("b")
    with pytest.raises(ArtifactError, match=r"could not be fetched \(\w*(Connection|Endpoint)"):
        model_local_path(key, sha256)


@pytest.mark.django_db
def test_the_bundled_model_registered_on_one_host_serves_on_another(remote):
    version = bundled_model_install()
    ref = model_ref_for_version(version.version)
    remote("b")

    model = load_model(ref)

    assert model.ref.version == version.version
    remote.store.take_down()
    remote("c")  # a third host, with the store down: the version is unavailable
    with pytest.raises(ModelUnavailable, match="could not be fetched"):
        load_model(ref)


@pytest.mark.django_db
def test_compile_models_publishes_the_compiled_file_for_every_host(remote):
    version = bundled_model_install()
    ModelVersion.objects.update(compiled_path="", compiled_sha256="")  # as registered before

    call_command("compile_models", stdout=StringIO())

    version.refresh_from_db()
    assert model_storage().exists(version.compiled_path)
    remote("b")  # another host reads it through its own cache
    local = model_local_path(version.compiled_path, version.compiled_sha256)
    assert compiled_read(local, version.compiled_sha256)
