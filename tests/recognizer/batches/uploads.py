"""What the batch tests send: MNIST digits as an .npy upload, and the create call."""

import io

import numpy as np

URL = "/api/v1/batches/"


def mnist_digits(mnist_cache, count: int) -> tuple[np.ndarray, np.ndarray]:
    from training.ml.datasets import load_mnist

    mnist = load_mnist(mnist_cache)
    return mnist.x_test[:count], mnist.y_test[:count]


def npy_upload(images: np.ndarray, name: str = "digits.npy") -> io.BytesIO:
    buffer = io.BytesIO()
    np.save(buffer, images)
    buffer.seek(0)
    buffer.name = name
    return buffer


def create(client, body=None, **kwargs):
    if body is not None:
        return client.post(URL, body, content_type="application/json")
    return client.post(URL, kwargs)
