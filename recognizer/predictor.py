"""The model that answers predictions in this process, and its hot swap.

One `Predictor` per process (`predictor()`). A request asks it for the
current model; at most every PREDICTOR_REFRESH_SECONDS that request also
looks up which version is active (one indexed query). When the active version
changed, a background thread loads and warms the new one while the old one
keeps answering, then swaps the reference: no request waits for a load and
none fails during a switch. Only a process that has no model yet (the first
request, or warm-up at start) loads in the foreground.

Inference never calls `model.predict()`, which rebuilds its data pipeline on
every call (many times the cost of the answer itself; docs/benchmarks.md).
One image goes through the version's compiled (LiteRT) model on the calling
thread; batches, and versions registered before there was a compiled model,
through the Keras model as a traced `tf.function`.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import DatabaseError

from training.ml.artifacts import ArtifactError
from training.ml.litert import SingleImageRunner
from training.model_store import ModelStoreUnreachable, compiled_load, model_load
from training.models import ModelVersion

logger = logging.getLogger(__name__)


class NoActiveModel(Exception):
    """No version is active, so there is nothing to predict with."""


class ModelUnavailable(Exception):
    """A version is active but its model cannot be loaded in this process."""


@dataclass(frozen=True)
class ModelRef:
    """Which files to load for which version (a row of the registry)."""

    pk: int
    version: int
    artifact_path: str
    artifact_sha256: str
    compiled_path: str = ""
    compiled_sha256: str = ""

    FIELDS = ("pk", "version", "artifact_path", "artifact_sha256", "compiled_path",
              "compiled_sha256")  # fmt: skip

    @classmethod
    def of(cls, version: ModelVersion) -> "ModelRef":
        return cls(*(getattr(version, name) for name in cls.FIELDS))


@dataclass(frozen=True)
class LoadedModel:
    ref: ModelRef
    # (N, 28, 28) float32 in [0, 1], MNIST convention -> (N, 10) probabilities.
    infer: Callable[[np.ndarray], np.ndarray]

    @property
    def version(self) -> int:
        return self.ref.version


def active_model_ref() -> ModelRef | None:
    row = ModelVersion.objects.filter(is_active=True).values_list(*ModelRef.FIELDS).first()
    return ModelRef(*row) if row else None


def model_ref_for_version(version: int) -> ModelRef | None:
    row = ModelVersion.objects.filter(version=version).values_list(*ModelRef.FIELDS).first()
    return ModelRef(*row) if row else None


def load_model(ref: ModelRef, *, threads: int | None = None) -> LoadedModel:
    """Load (sha256-verified), trace and warm up a version's model. `threads`:
    TensorFlow's threads if this is the process's first use of it (default
    PREDICTOR_THREADS)."""
    _configure_tensorflow(threads or settings.PREDICTOR_THREADS)
    import tensorflow as tf

    try:
        model = model_load(ref.artifact_path, ref.artifact_sha256)
        compiled = (
            compiled_load(ref.compiled_path, ref.compiled_sha256) if ref.compiled_path else None
        )
    except (ArtifactError, OSError, ValueError) as exc:
        raise ModelUnavailable(f"model v{ref.version} cannot be loaded: {exc}") from exc
    traced = tf.function(
        lambda batch: model(batch, training=False),
        input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32)],
    )
    try:
        single = SingleImageRunner(compiled) if compiled else None
    except (ValueError, RuntimeError) as exc:  # the runtime refused the flatbuffer
        raise ModelUnavailable(f"model v{ref.version}'s compiled file: {exc}") from exc

    def infer(images: np.ndarray) -> np.ndarray:
        # One image (a web request): the compiled model on this thread.
        # Many (a batch): TensorFlow, which spreads them over the cores.
        if single is not None and len(images) == 1:
            return single(images)
        return traced(images[..., None]).numpy()

    # Trace now, not on a visitor's request or a batch's first chunk (the
    # compiled runner has warmed itself up already).
    infer(np.zeros((2, 28, 28), dtype=np.float32))
    return LoadedModel(ref=ref, infer=infer)


_tensorflow_configured = False


def _configure_tensorflow(threads: int) -> None:
    """Set TensorFlow's threads per process before its first operation: web
    processes run side by side and one image is too small to split, while a
    batch worker splits its large arrays across the cores."""
    global _tensorflow_configured
    if _tensorflow_configured:
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # TensorFlow already ran in this process (tests, a worker): keep its setting
    _tensorflow_configured = True


class Predictor:
    def __init__(
        self,
        *,
        refresh_seconds: float,
        lookup: Callable[[], ModelRef | None],
        load: Callable[[ModelRef], LoadedModel],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._refresh_seconds = refresh_seconds
        self._lookup = lookup
        self._load = load
        self._clock = clock
        self._current: LoadedModel | None = None
        self._active: ModelRef | None = None
        self._checked_at = -float("inf")
        self._check_lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._loading: ModelRef | None = None
        # The version that last failed to load, when, and why (public words).
        self._failed: tuple[ModelRef, float, str] | None = None

    def model(self) -> LoadedModel:
        """The model to answer with now. Raises NoActiveModel or ModelUnavailable."""
        self._refresh_if_due()
        current, active = self._current, self._active
        if active is None:
            raise NoActiveModel("No model version is active.")
        if current is not None and current.ref == active:
            return current
        if current is not None:
            return current  # the new version is loading in the background
        if self._recently_failed(active):
            raise ModelUnavailable(f"Model v{active.version} could not be loaded; retrying soon.")
        try:
            return self._load_now(active)
        except ModelUnavailable as exc:
            self._failed = (active, self._clock(), _failure_reason(exc))
            raise

    def warm_up(self) -> LoadedModel | None:
        """Load the active version before the first request (process start)."""
        try:
            return self.model()
        except (NoActiveModel, ModelUnavailable) as exc:
            logger.warning("predictor warm-up: %s", exc)
            return None

    def _refresh_if_due(self) -> None:
        if self._clock() - self._checked_at < self._refresh_seconds:
            return
        # Until the first look-up is done there is nothing to answer with: wait
        # for it. Later, a request never waits for another's check.
        first = self._checked_at == -float("inf")
        if not self._check_lock.acquire(blocking=first):
            return  # another request thread is checking right now
        try:
            try:
                active = self._lookup()
            except DatabaseError as exc:
                if self._current is None:
                    raise
                # Keep answering with what is loaded; the next request retries.
                logger.warning("predictor could not look up the active version: %s", exc)
                return
            self._checked_at = self._clock()
            self._active = active
            current = self._current
            if active is not None and current is not None and current.ref != active:
                self._load_in_background(active)
        finally:
            self._check_lock.release()

    def _load_now(self, ref: ModelRef) -> LoadedModel:
        with self._load_lock:
            current = self._current
            if current is not None and current.ref == ref:
                return current  # another thread loaded it while this one waited
            loaded = self._load(ref)
            self._current = loaded
            return loaded

    def _load_in_background(self, ref: ModelRef) -> None:
        if self._loading == ref or self._recently_failed(ref):
            return
        self._loading = ref
        threading.Thread(
            target=self._swap_to, args=(ref,), name=f"load-model-v{ref.version}", daemon=True
        ).start()

    def _swap_to(self, ref: ModelRef) -> None:
        try:
            self._load_now(ref)
            logger.info("predictor now serves model v%s", ref.version)
        except Exception as exc:
            # Keep serving the previous version; say why loudly.
            logger.exception("predictor could not load model v%s", ref.version)
            self._failed = (ref, self._clock(), _failure_reason(exc))
        finally:
            self._loading = None

    def state(self) -> dict[str, Any]:
        """What this process serves, and why the active version is not served
        if it failed to load (for /healthz: words, no paths or addresses)."""
        current, active, failed = self._current, self._active, self._failed
        state: dict[str, Any] = {"serving": current.ref.version if current else None}
        if (
            failed is not None
            and failed[0] == active
            and (current is None or current.ref != active)
        ):
            state["load_error"] = f"v{active.version} could not be loaded: {failed[2]}"
        return state

    def _recently_failed(self, ref: ModelRef) -> bool:
        # A broken artifact is retried every half minute, not on every request.
        return (
            self._failed is not None
            and self._failed[0] == ref
            and self._clock() - self._failed[1] < 30.0
        )


def _failure_reason(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    if isinstance(cause, ModelStoreUnreachable):
        return "the model store is not answering"
    if isinstance(cause, ArtifactError):
        return "its model file is missing or not the registered one"
    return "its model could not be built"


_by_sha: dict[str, LoadedModel] = {}
_by_sha_lock = threading.Lock()


def model_for_version(ref: ModelRef, *, threads: int | None = None) -> LoadedModel:
    """A given version's model, kept loaded for the next batch that asks
    (the two most recently used versions stay in memory)."""
    with _by_sha_lock:
        loaded = _by_sha.pop(ref.artifact_sha256, None)
        if loaded is None:
            loaded = load_model(ref, threads=threads)
        _by_sha[ref.artifact_sha256] = loaded  # most recent last
        while len(_by_sha) > 2:
            del _by_sha[next(iter(_by_sha))]
    return LoadedModel(ref=ref, infer=loaded.infer)


_predictor: Predictor | None = None
_predictor_lock = threading.Lock()


def predictor() -> Predictor:
    """This process's predictor."""
    global _predictor
    if _predictor is None:
        with _predictor_lock:
            if _predictor is None:
                _predictor = Predictor(
                    refresh_seconds=settings.PREDICTOR_REFRESH_SECONDS,
                    lookup=active_model_ref,
                    # The same cache as ?model_version=N: one copy per version.
                    load=model_for_version,
                )
    return _predictor


def reset_predictor() -> None:
    """Forget the loaded model (tests; after pointing at another model store)."""
    global _predictor
    with _predictor_lock:
        _predictor = None
