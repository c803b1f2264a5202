"""How much a piece of work grows a process's resident memory at its peak
(Linux): the high-water mark (VmHWM) is reset when the work starts and
compared with the resident memory then. Used by tests that run the work in a
fresh process of their own (`python -c`), so nothing else shares the peak."""

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


@contextmanager
def peak_growth() -> Iterator[dict[str, float]]:
    """`with peak_growth() as measured: ...`; then measured["mib"]."""
    measured: dict[str, float] = {}
    Path("/proc/self/clear_refs").write_text("5")  # the high-water mark starts again here
    before = _status_kib("VmRSS")
    yield measured
    measured["mib"] = (_status_kib("VmHWM") - before) / 1024


def run_fresh(script: str, *args: str, timeout: float) -> dict:
    """Run `script` (which prints one JSON object last) in a fresh Python
    process at the project root; its answer."""
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
