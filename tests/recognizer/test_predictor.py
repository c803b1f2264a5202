"""The per-process predictor: loads the active version, swaps to a newly
activated one in the background without failing a request, and says clearly
when there is nothing to serve."""

import base64
import threading
import time

import numpy as np
import pytest
from django.db import OperationalError

from recognizer.predictor import (
    LoadedModel,
    ModelRef,
    ModelUnavailable,
    NoActiveModel,
    Predictor,
    load_model,
)
from tests.conftest import wait_until
from tests.harness.canvas import SEVEN, canvas_png
from training.ml.artifacts import artifact_load, artifact_save
from training.ml.evaluation import evaluate_probabilities
from training.ml.litert import SingleImageRunner
from training.model_store import ModelStoreUnreachable
from training.services.registry import version_activate, version_register

V1 = ModelRef(pk=1, version=1, artifact_path="v1.keras", artifact_sha256="a" * 64)
V2 = ModelRef(pk=2, version=2, artifact_path="v2.keras", artifact_sha256="b" * 64)


class FakeRegistry:
    """The active version as the database would say, and a loader that can be
    made slow or failing."""

    def __init__(self, active: ModelRef | None) -> None:
        self.active = active
        self.loads: list[int] = []
        self.load_started = threading.Event()
        self.release_load = threading.Event()
        self.release_load.set()
        self.fail = False
        self.database_down = False

    def lookup(self) -> ModelRef | None:
        if self.database_down:
            raise OperationalError("connection refused")
        return self.active

    def load(self, ref: ModelRef) -> LoadedModel:
        self.load_started.set()
        self.release_load.wait(5)
        if self.fail:
            raise ModelUnavailable(f"v{ref.version} is broken")
        self.loads.append(ref.version)
        return LoadedModel(ref=ref, infer=lambda images: np.full((len(images), 10), 0.1))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_predictor(registry: FakeRegistry, clock: Clock) -> Predictor:
    return Predictor(refresh_seconds=0.5, lookup=registry.lookup, load=registry.load, clock=clock)


def test_the_first_request_loads_the_active_version():
    registry, clock = FakeRegistry(V1), Clock()
    predictor = make_predictor(registry, clock)

    assert predictor.model().version == 1
    assert predictor.model().version == 1
    assert registry.loads == [1]


def test_with_no_active_version_it_raises_no_active_model():
    predictor = make_predictor(FakeRegistry(None), Clock())

    with pytest.raises(NoActiveModel):
        predictor.model()


def test_a_new_version_loads_in_the_background_while_the_old_one_answers():
    registry, clock = FakeRegistry(V1), Clock()
    predictor = make_predictor(registry, clock)
    predictor.model()
    registry.release_load.clear()
    registry.active = V2
    clock.now = 1.0

    during = predictor.model()  # starts the background load, answers at once
    assert registry.load_started.wait(2)
    also_during = predictor.model()
    registry.release_load.set()

    assert during.version == 1 and also_during.version == 1
    assert wait_until(lambda: predictor.model().version == 2, timeout=2, interval=0.01)
    assert registry.loads == [1, 2]


def test_the_active_version_is_looked_up_at_most_every_refresh_interval():
    registry, clock = FakeRegistry(V1), Clock()
    predictor = make_predictor(registry, clock)
    predictor.model()
    registry.active = V2

    clock.now = 0.4
    predictor.model()
    time.sleep(0.05)

    assert registry.loads == [1]


def test_the_reason_a_version_failed_to_load_is_in_the_predictors_state():
    clock, active = Clock(), [V1]
    unreachable = ModelStoreUnreachable("model file v2.keras could not be fetched (timeout)")

    def load(ref: ModelRef) -> LoadedModel:
        if ref.version == 2:
            raise ModelUnavailable("model v2 cannot be loaded") from unreachable
        return LoadedModel(ref=ref, infer=lambda images: np.full((len(images), 10), 0.1))

    predictor = Predictor(refresh_seconds=0.5, lookup=lambda: active[0], load=load, clock=clock)
    predictor.model()
    active[0] = V2
    clock.now = 1.0
    predictor.model()  # starts the background load

    assert wait_until(lambda: "load_error" in predictor.state(), timeout=2, interval=0.01)
    assert predictor.state() == {
        "serving": 1,
        "load_error": "v2 could not be loaded: the model store is not answering",
    }


def test_a_version_that_fails_to_load_leaves_the_old_one_serving():
    registry, clock = FakeRegistry(V1), Clock()
    predictor = make_predictor(registry, clock)
    predictor.model()
    registry.fail = True
    registry.active = V2
    clock.now = 1.0

    predictor.model()
    time.sleep(0.1)
    clock.now = 2.0

    assert predictor.model().version == 1
    assert registry.loads == [1]


def test_an_active_version_that_cannot_be_loaded_is_model_unavailable_and_not_retried_at_once():
    registry, clock = FakeRegistry(V1), Clock()
    registry.fail = True
    predictor = make_predictor(registry, clock)

    with pytest.raises(ModelUnavailable):
        predictor.model()
    registry.fail = False
    clock.now = 1.0
    with pytest.raises(ModelUnavailable, match="retrying soon"):
        predictor.model()
    clock.now = 31.0
    assert predictor.model().version == 1


def test_deactivating_every_version_stops_predictions():
    registry, clock = FakeRegistry(V1), Clock()
    predictor = make_predictor(registry, clock)
    predictor.model()
    registry.active = None
    clock.now = 1.0

    with pytest.raises(NoActiveModel):
        predictor.model()


def test_a_database_outage_keeps_the_loaded_model_serving():
    registry, clock = FakeRegistry(V1), Clock()
    predictor = make_predictor(registry, clock)
    predictor.model()
    registry.database_down = True
    clock.now = 1.0

    assert predictor.model().version == 1


def test_concurrent_first_requests_load_the_model_once():
    registry, clock = FakeRegistry(V1), Clock()
    registry.release_load.clear()
    predictor = make_predictor(registry, clock)
    answers: list[int] = []
    threads = [
        threading.Thread(target=lambda: answers.append(predictor.model().version)) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    registry.load_started.wait(2)
    registry.release_load.set()
    for thread in threads:
        thread.join(5)

    assert answers == [1] * 8
    assert registry.loads == [1]


@pytest.mark.django_db
def test_load_model_verifies_the_sha256(active_model, settings):
    ref = ModelRef(active_model.pk, 1, active_model.artifact_path, "0" * 64)

    with pytest.raises(ModelUnavailable, match="sha256"):
        load_model(ref)


@pytest.mark.django_db
def test_the_traced_model_answers_like_keras_predict(active_model, mnist_cache, settings):
    from training.ml.datasets import load_mnist

    images = load_mnist(mnist_cache).x_test[:200].astype(np.float32) / 255.0
    ref = ModelRef(active_model.pk, 1, active_model.artifact_path, active_model.artifact_sha256)
    model = artifact_load(
        settings.MODEL_STORE_DIR / active_model.artifact_path, active_model.artifact_sha256
    )

    traced = load_model(ref).infer(images)
    reference = model.predict(images[..., None], verbose=0)

    assert np.allclose(traced, reference, atol=1e-5)


@pytest.mark.django_db
def test_one_image_goes_through_the_compiled_model_many_through_tensorflow(
    active_model, mnist_cache, settings, monkeypatch
):
    from recognizer import predictor as predictor_module
    from training.ml.datasets import load_mnist

    images = load_mnist(mnist_cache).x_test[:50].astype(np.float32) / 255.0
    compiled_calls = []
    original = predictor_module.SingleImageRunner.__call__

    def counted(self, batch):
        compiled_calls.append(len(batch))
        return original(self, batch)

    monkeypatch.setattr(predictor_module.SingleImageRunner, "__call__", counted)
    loaded = load_model(ModelRef.of(active_model))
    compiled_calls.clear()  # the warm-up's

    one_by_one = np.concatenate([loaded.infer(image[None]) for image in images])
    together = loaded.infer(images)

    assert compiled_calls == [1] * 50
    np.testing.assert_allclose(one_by_one, together, atol=1e-5)


@pytest.mark.django_db
def test_a_changed_compiled_file_makes_the_version_unavailable(active_model, settings):
    path = settings.MODEL_STORE_DIR / active_model.compiled_path
    path.write_bytes(path.read_bytes()[:-1])

    with pytest.raises(ModelUnavailable, match="sha256"):
        load_model(ModelRef.of(active_model))


def test_each_thread_gets_its_own_interpreter(bundled_flatbuffer):
    runner = SingleImageRunner(bundled_flatbuffer)
    image = np.zeros((1, 28, 28), dtype=np.float32)
    image[0, 8:20, 13:15] = 1.0  # a "1"
    answers = []

    def ask() -> None:
        for _ in range(50):
            answers.append(runner(image))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(answers) == 200
    assert all(np.array_equal(answer, answers[0]) for answer in answers)
    assert int(answers[0].argmax()) == 1


@pytest.fixture
def bundled_flatbuffer() -> bytes:
    from training.bundle import BUNDLE_DIR, bundled_metadata
    from training.ml.artifacts import compiled_read

    metadata = bundled_metadata()
    return compiled_read(BUNDLE_DIR / metadata["compiled_file"], metadata["compiled_sha256"])


@pytest.mark.django_db(transaction=True)
def test_activating_another_version_switches_live_requests_within_2_seconds(
    client, active_model, settings, admin_user
):
    """Real models, real database: activate v2 while requests keep coming;
    no request fails and every answer names the version that produced it."""
    settings.PREDICTOR_REFRESH_SECONDS = 0.5
    bundled = artifact_load(
        settings.MODEL_STORE_DIR / active_model.artifact_path, active_model.artifact_sha256
    )
    artifact = artifact_save(bundled, settings.MODEL_STORE_DIR, stem="v2")
    probabilities = np.eye(10)[[0, 1]]
    version_register(
        artifact=artifact,
        architecture=active_model.architecture,
        parameter_count=active_model.parameter_count,
        evaluation=evaluate_probabilities(probabilities, np.array([0, 1])),
        dataset_fingerprint={},
        auto_activate=False,
    )
    body = {"image": base64.b64encode(canvas_png(SEVEN)).decode()}
    client.force_login(admin_user)  # staff are not throttled

    def ask() -> int:
        response = client.post("/api/v1/predictions/", body, content_type="application/json")
        assert response.status_code == 201, response.content
        return response.json()["model_version"]

    assert ask() == 1
    version_activate(version=2, reason="test")
    activated_at = time.monotonic()
    answers = []
    while not answers or answers[-1][1] != 2 or time.monotonic() - activated_at < 3.0:
        answers.append((time.monotonic() - activated_at, ask()))
        assert answers[-1][0] < 10, "never switched"

    # About 1 s on an idle machine (docs/benchmarks.md); the bound leaves room
    # for a busy CI machine, where loading the new model takes longer.
    switched_at = next(elapsed for elapsed, version in answers if version == 2)
    assert switched_at < 5.0
    assert all(version == 2 for elapsed, version in answers if elapsed >= switched_at)
    from recognizer.models import Submission

    stored = list(
        Submission.objects.order_by("pk").values_list("model_version__version", flat=True)
    )
    assert stored == [1] + [version for _, version in answers]


def test_requests_during_the_first_look_up_wait_for_it_instead_of_failing():
    registry, clock = FakeRegistry(V1), Clock()
    looked_up = threading.Event()
    slow_lookup = registry.lookup

    def lookup():
        looked_up.set()
        time.sleep(0.2)
        return slow_lookup()

    predictor = Predictor(refresh_seconds=0.5, lookup=lookup, load=registry.load, clock=clock)
    answers: list[int | str] = []

    def ask() -> None:
        try:
            answers.append(predictor.model().version)
        except NoActiveModel:
            answers.append("no model")

    first = threading.Thread(target=ask)
    first.start()
    looked_up.wait(2)
    second = threading.Thread(target=ask)
    second.start()
    first.join(5)
    second.join(5)

    assert answers == [1, 1]
