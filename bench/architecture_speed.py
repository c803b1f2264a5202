"""Benchmark: training throughput of each architecture on this machine.

    .venv/bin/python -m bench.architecture_speed

Trains one warm-up pass, then times one pass over 12,800 MNIST images at batch
128 (no augmentation) and reports images/second and the implied seconds per
epoch of the 55,000-image training part. Needs the MNIST cache (fetch_mnist).
"""

import os
import time
from pathlib import Path

TRAIN_PART = 55_000
TIMED = 12_800


def main() -> None:
    from training.ml.architectures import ARCHITECTURES, build
    from training.ml.datasets import load_mnist
    from training.ml.memory import keep_freed_memory

    keep_freed_memory()  # as fit() does

    cache = Path(os.environ.get("MNIST_CACHE_DIR", Path.home() / ".cache" / "mnistsite"))
    data = load_mnist(cache.expanduser())
    import keras

    x = data.x_train[:TIMED, :, :, None].astype("float32") / 255.0
    y = keras.utils.to_categorical(data.y_train[:TIMED], 10)
    print(f"{os.cpu_count()} cores")
    print("| architecture | parameters | training images/s | s per epoch (55k) |")
    print("| --- | --- | --- | --- |")
    for name in ARCHITECTURES:
        model = build(name)
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        model.fit(x[:2560], y[:2560], batch_size=128, epochs=1, verbose=0)
        started = time.perf_counter()
        model.fit(x, y, batch_size=128, epochs=1, verbose=0)
        rate = TIMED / (time.perf_counter() - started)
        print(
            f"| {name} | {model.count_params():,} | {rate:,.0f} | {TRAIN_PART / rate:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
