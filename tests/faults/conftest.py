"""The fault tests' site: started once per test run on a private PostgreSQL
and Redis, and brought back to health after each test, whatever it broke."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.faults.services import PrivatePostgres, PrivateRedis, missing_binaries, port_open
from tests.faults.site import Site
from tests.harness.canvas import data_url, mnist_png

SITE_PROCESSES = ("web", "worker", "worker-training", "beat")


@pytest.fixture(scope="session")
def site(mnist_cache) -> Iterator[Site]:
    missing = missing_binaries()
    if missing:
        message = f"the fault tests need PostgreSQL's and Redis' server programs: {missing}"
        if os.environ.get("MNISTSITE_EXPECT_SERVICES"):
            pytest.fail(message)  # CI has them: missing there is a failure
        pytest.skip(message)
    # Under /tmp, not pytest's private tmp folder: the `postgres` user must reach it.
    workdir = Path(tempfile.mkdtemp(prefix="mnistsite-faults-"))
    workdir.chmod(0o755)
    postgres = PrivatePostgres(workdir / "postgres")
    redis = PrivateRedis(workdir / "redis")
    site = Site(workdir / "site", postgres, redis)
    try:
        postgres.init()
        postgres.start()
        redis.start()
        site.install()
        site.start_all(SITE_PROCESSES)
        yield site
    finally:
        site.stop_all()
        redis.stop()
        postgres.discard()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(autouse=True)
def healthy_site(site: Site) -> Iterator[None]:
    """Whatever a test stopped or killed is running again for the next one."""
    yield
    if site.redis.process is None or site.redis.process.poll() is not None:
        site.redis.start()
    else:
        site.redis.resume()  # a no-op unless a test paused it
    if not port_open(site.postgres.port):
        site.postgres.start()
    for name in list(site.processes):
        if name not in SITE_PROCESSES:
            site.stop(name)
    for name in SITE_PROCESSES:
        if not site.is_running(name):
            site.restart(name)


@pytest.fixture(scope="session")
def mnist_test(mnist_cache) -> tuple[np.ndarray, np.ndarray]:
    from training.ml.datasets import load_mnist

    data = load_mnist(mnist_cache)
    return data.x_test, data.y_test


@pytest.fixture(scope="session")
def digit_bodies(mnist_test) -> list[dict]:
    """Twenty MNIST test digits as canvas PNGs, as the drawing page sends them."""
    images, _ = mnist_test
    return [{"image": data_url(mnist_png(image))} for image in images[:20]]
