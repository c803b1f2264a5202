"""The training loop: data pipeline, optimiser and schedule, progress reports,
cancellation between batches, and model selection on held-out validation data.

Knows nothing of Django: the caller passes a `Reporter` that turns progress
into database writes (or a progress bar) and may raise `TrainingCancelled`.
"""

import functools
import time
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from training.ml.architectures import build
from training.ml.augment import augment_batch
from training.ml.memory import keep_freed_memory


class TrainingCancelled(Exception):
    """Raised by a reporter to stop training between two batches."""


@dataclass(frozen=True)
class FitConfig:
    architecture: str
    epochs: int
    batch_size: int = 128
    learning_rate: float = 2e-3
    # "cosine": one warm-up epoch, then cosine decay to zero; "constant".
    schedule: str = "cosine"
    augment: bool = True
    seed: int = 0
    label_smoothing: float = 0.0
    # More than one: train that many models and average their probabilities.
    members: int = 1

    @property
    def total_epochs(self) -> int:
        return self.epochs * self.members


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int  # counted across ensemble members: 1 .. members * epochs
    member: int
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


class Reporter(Protocol):
    def on_batch(self, *, epoch: int, batch: int, batches: int) -> None: ...

    def on_epoch(self, metrics: EpochMetrics) -> None: ...


@dataclass
class FitResult:
    model: Any
    history: list[EpochMetrics]
    # Per member: its epoch (1 .. epochs) with the best validation accuracy.
    best_epochs: list[int]


def _learning_rate(keras: Any, config: FitConfig, steps_per_epoch: int) -> Any:
    if config.schedule == "constant":
        return config.learning_rate
    if config.schedule != "cosine":
        raise ValueError(f"unknown schedule {config.schedule!r}")
    warmup = steps_per_epoch if config.epochs > 2 else 0
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate / 10 if warmup else config.learning_rate,
        decay_steps=max(1, steps_per_epoch * config.epochs - warmup),
        alpha=0.0,
        warmup_target=config.learning_rate if warmup else None,
        warmup_steps=warmup,
    )


def _dataset(tf: Any, x: np.ndarray, y: np.ndarray, config: FitConfig, *, train: bool) -> Any:
    data = tf.data.Dataset.from_tensor_slices((x, y))
    if train:
        data = data.shuffle(len(x), seed=config.seed, reshuffle_each_iteration=True)
    data = data.batch(config.batch_size)

    def prepare(images: Any, labels: Any) -> tuple[Any, Any]:
        images = tf.cast(images, tf.float32)[..., None] / 255.0
        if train and config.augment:
            images = augment_batch(images)
        return images, labels

    return data.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


def fit(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    config: FitConfig,
    reporter: Reporter,
) -> FitResult:
    """Train `config.members` fresh models of `config.architecture` on uint8
    images and return one model: the member itself, or the average of the
    members' probabilities (an ensemble is more accurate than any member and
    makes fewer confident mistakes on unfamiliar drawings).

    Steps, per member (seed `config.seed + i`): build; train `config.epochs`
    epochs, reporting every batch (the reporter may cancel) and every epoch,
    numbered across members; keep the weights of the epoch with the best
    validation accuracy (ties: lower validation loss).
    """
    import keras
    import tensorflow as tf

    keep_freed_memory()
    one_hot = keras.utils.to_categorical
    train = _dataset(tf, x_train, one_hot(y_train, 10), config, train=True)
    val = _dataset(tf, x_val, one_hot(y_val, 10), config, train=False)
    steps_per_epoch = int(np.ceil(len(x_train) / config.batch_size))
    members, history, best_epochs = [], [], []
    for index in range(config.members):
        keras.utils.set_random_seed(config.seed + index)
        model = build(config.architecture, model_name=f"member_{index + 1}")
        model.compile(
            optimizer=keras.optimizers.Adam(_learning_rate(keras, config, steps_per_epoch)),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
            metrics=["accuracy"],
        )
        tracker = _tracker_class()(
            reporter, steps_per_epoch, member=index + 1, epoch_offset=index * config.epochs
        )
        # The dataset shuffles itself each epoch.
        model.fit(
            train, validation_data=val, epochs=config.epochs, verbose=0, shuffle=False,
            callbacks=[tracker],
        )  # fmt: skip
        model.set_weights(tracker.best_weights)
        members.append(model)
        history.extend(tracker.history)
        best_epochs.append(tracker.best_epoch)
    model = members[0] if len(members) == 1 else _average(keras, members)
    return FitResult(model=model, history=history, best_epochs=best_epochs)


def _average(keras: Any, members: list[Any]) -> Any:
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Average()([member(inputs) for member in members])
    return keras.Model(inputs, outputs, name="ensemble")


@functools.cache
def _tracker_class() -> type:
    """Defined on first use: subclassing a Keras class imports TensorFlow."""
    import keras

    class Tracker(keras.callbacks.Callback):
        """Reports progress and remembers the best epoch's weights."""

        def __init__(
            self, reporter: Reporter, steps_per_epoch: int, *, member: int, epoch_offset: int
        ) -> None:
            super().__init__()
            self.reporter = reporter
            self.steps_per_epoch = steps_per_epoch
            self.member = member
            self.epoch_offset = epoch_offset
            self.history: list[EpochMetrics] = []
            self.best_key: tuple[float, float] | None = None
            self.best_weights: list[Any] = []
            self.best_epoch = 0
            self._epoch = 0
            self._started = 0.0

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._epoch = self.epoch_offset + epoch + 1
            self._started = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.reporter.on_batch(epoch=self._epoch, batch=batch + 1, batches=self.steps_per_epoch)

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            metrics = EpochMetrics(
                epoch=self.epoch_offset + epoch + 1,
                member=self.member,
                loss=float(logs["loss"]),
                accuracy=float(logs["accuracy"]),
                val_loss=float(logs["val_loss"]),
                val_accuracy=float(logs["val_accuracy"]),
                seconds=round(time.perf_counter() - self._started, 2),
            )
            self.history.append(metrics)
            key = (metrics.val_accuracy, -metrics.val_loss)
            if self.best_key is None or key > self.best_key:
                self.best_key, self.best_epoch = key, epoch + 1
                self.best_weights = self.model.get_weights()
            self.reporter.on_epoch(metrics)

    return Tracker
