from pathlib import Path

import pytest
from django.conf import settings

from training.ml.datasets import fetch_mnist


@pytest.fixture(scope="session")
def mnist_cache() -> Path:
    """The real, verified MNIST cache (fetched once per machine; CI reuses it)."""
    return fetch_mnist(settings.MNIST_CACHE_DIR, log=lambda message: None)
