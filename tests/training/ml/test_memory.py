"""The allocator tuning fit() applies (training/ml/memory.py)."""

import ctypes
import subprocess
import sys

from training.ml import memory


def test_glibc_accepts_the_settings():
    # In a fresh process: the answer is cached per process, and mallopt
    # returns 0 (refused) for values out of glibc's range.
    code = "from training.ml.memory import keep_freed_memory; print(keep_freed_memory())"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "True", result.stderr


def test_a_c_library_without_mallopt_changes_nothing(monkeypatch):
    def no_such_library(name):
        raise OSError(f"{name}: cannot open shared object file")

    memory.keep_freed_memory.cache_clear()
    monkeypatch.setattr(ctypes, "CDLL", no_such_library)
    try:
        assert memory.keep_freed_memory() is False
    finally:
        memory.keep_freed_memory.cache_clear()
