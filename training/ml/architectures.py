"""CNN architectures by name. Inputs are (28, 28, 1) floats in [0, 1], MNIST
convention (light digit on black); outputs are 10 softmax probabilities."""

from collections.abc import Callable
from typing import Any


def _small(keras: Any) -> Any:
    """Two conv blocks and a dense layer: the `quick` preset's model."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ],
        name="cnn_small",
    )


def _conv_bn(layers: Any, filters: int, kernel: int, padding: str = "same") -> list[Any]:
    return [
        layers.Conv2D(filters, kernel, padding=padding, use_bias=False),
        layers.BatchNormalization(),
        layers.ReLU(),
    ]


def _dense_head(layers: Any) -> list[Any]:
    return [
        layers.Flatten(),
        layers.Dropout(0.4),
        layers.Dense(256, activation="relu"),
        layers.Dropout(0.4),
        layers.Dense(10, activation="softmax"),
    ]


def _medium(keras: Any) -> Any:
    """A 5x5 and two 3x3 batch-normalised convolutions, one dense layer:
    `standard`. About 5 M multiply-adds per image, so an epoch fits in ~20 s
    on two cores."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            *_conv_bn(layers, 32, 5, padding="valid"),
            layers.MaxPooling2D(),
            *_conv_bn(layers, 64, 3, padding="valid"),
            *_conv_bn(layers, 64, 3, padding="valid"),
            layers.MaxPooling2D(),
            *_dense_head(layers),
        ],
        name="cnn_medium",
    )


def _large(keras: Any) -> Any:
    """Two blocks of two batch-normalised 3x3 convolutions, about 10 M
    multiply-adds per image. No preset uses it: four `cnn_medium` averaged
    did better in less time (docs/benchmarks.md)."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            *_conv_bn(layers, 32, 3, padding="valid"),
            *_conv_bn(layers, 32, 3, padding="valid"),
            layers.MaxPooling2D(),
            *_conv_bn(layers, 64, 3, padding="valid"),
            *_conv_bn(layers, 64, 3, padding="valid"),
            layers.MaxPooling2D(),
            *_dense_head(layers),
        ],
        name="cnn_large",
    )


ARCHITECTURES: dict[str, Callable[[Any], Any]] = {
    "cnn_small": _small,
    "cnn_medium": _medium,
    "cnn_large": _large,
}


def build(name: str, *, model_name: str | None = None) -> Any:
    """A fresh, uncompiled Keras model of the named architecture."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose from {', '.join(ARCHITECTURES)}")
    import keras

    model = ARCHITECTURES[name](keras)
    if model_name:
        # Unique names let several models sit side by side in an ensemble.
        model.name = model_name
    return model
