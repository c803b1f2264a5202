"""Benchmark: this site against a dedicated model server and a bare floor,
side by side on one machine, driven by one client.

    pip install -e '.[versus]'    # BentoML, Starlette and uvicorn, for this only
    .venv/bin/python -m bench.versus [--rounds 2] [--seconds 20] [--drawings 200]

Each round starts each server in turn, alone on the machine:

- **site**: this project with production settings (DEBUG off, PostgreSQL,
  Redis, gunicorn as the Procfile starts it, 2 x 4 threads); every 201 is a
  committed row, checked against the table;
- **bentoml**: BentoML 1.4 serving the same compiled model through the same
  Django-free preprocessing (bench/versus/bento.py), 2 workers;
- **floor**: the same behind bare Starlette on uvicorn, 2 workers, storing
  nothing (bench/versus/floor.py).

Each is driven by bench/loadgen.py (keep-alive, one connection per client)
with realistic drawings: the held-out writers' pen-drawn digits (PENDIGITS_DIR)
drawn on the page's 280x280 canvas with the page's pen, as PNG data URLs. Two
clients: one with an API token (as an integrator), one anonymous; each first
alone (1 connection), then 8 at once. The site's throttles are raised out of
the way (--throttle-rate), as a benchmark of speed, not of limits.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import predict_load
from bench.datasets import dataset_path
from tests.harness import processes as harness

SERVERS = ("site", "bentoml", "floor")
PATH = "/api/v1/predictions/"
OK = {"site": "201", "bentoml": "200", "floor": "200"}


def drawings(count: int) -> list[dict]:
    """`count` request bodies of held-out writers' digits drawn on the canvas."""
    import numpy as np

    from tests.harness.canvas import DIGITS, canvas_png, data_url

    folder = dataset_path("PENDIGITS_DIR")
    if folder is None:
        print("PENDIGITS_DIR is not set: using the ten built-in drawings instead", file=sys.stderr)
        return [
            {"body": json.dumps({"image": data_url(canvas_png(strokes))}), "label": digit}
            for digit, strokes in DIGITS.items()
        ]
    from training.ml.pen_canvas import AS_DRAWN, place
    from training.ml.pendigits import read_pendigits

    digits = read_pendigits(folder).held_out_digits()
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(digits), size=min(count, len(digits)), replace=False)
    bodies = []
    for index in chosen:
        strokes, pen = place(digits[index], rng, AS_DRAWN)
        image = data_url(canvas_png(strokes, pen_width=pen))
        bodies.append({"body": json.dumps({"image": image}), "label": digits[index].label})
    return bodies


def start(server: str, args: argparse.Namespace, var: Path, port: int) -> subprocess.Popen:
    if server == "site":
        predict_load.recreate_postgres_database(args.database_url)
        predict_load.flush_cache(args)
        env = predict_load.server_env(args, var)
        env["THROTTLE_PREVIEW_RATE"] = args.throttle_rate
        harness.manage(env, "migrate", "--noinput")
        harness.manage(env, "ensure_bundled_model")
        args.token = predict_load.staff_token(env)
        return predict_load.start_gunicorn(
            env, workers=2, threads=4, port=port, log_dir=var, name="site", capture_output=True
        )
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "HOME": str(var)}
    if server == "bentoml":
        env["BENTOML_HOME"] = str(var / "bentoml")
        command = [str(Path(sys.executable).parent / "bentoml"), "serve",
                   "bench.versus.bento:Digits", "--port", str(port)]  # fmt: skip
    else:
        command = [str(Path(sys.executable).parent / "uvicorn"), "bench.versus.floor:app",
                   "--workers", "2", "--port", str(port), "--log-level", "warning"]  # fmt: skip
    return harness.start(command, env=env, log=var / f"{server}.log")


def measure(server, pid, port, bodies, concurrency, token, args, *, preview=False):
    """One load level against a running server: latencies, rate, errors.
    `preview`: the site's live guess while drawing (`?preview=true`, not stored)."""
    url = f"http://127.0.0.1:{port}{PATH}" + ("?preview=true" if preview else "")
    ok_status = "200" if preview else OK[server]
    command = [
        sys.executable, "-m", "bench.loadgen", "--url", url,
        "--bodies", str(bodies), "--concurrency", str(concurrency),
        "--seconds", str(args.seconds), "--warmup", str(args.warmup),
    ]  # fmt: skip
    if token:
        command += ["--header", f"Authorization: Token {token}"]
    report = predict_load.drive_generator(command, pid)
    latencies = sorted(report["latencies_ms"])
    ok = report["statuses"].get(ok_status, 0)
    requests = sum(report["statuses"].values()) + sum(report["errors"].values())
    return {
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))],
        "rate": ok / report["window_seconds"],
        "errors": requests - ok,
        "created": 0 if preview else ok + report["warmup_statuses"].get(ok_status, 0),
        "wrong": report["wrong_digit"],
    }


def run_server(server: str, args, var: Path, bodies: Path) -> dict:
    """Start `server`, measure each client at 1 and at --concurrency, stop it."""
    var.mkdir(parents=True)
    port = harness.free_port()
    process = start(server, args, var, port)
    try:
        log = var / ("error-site.log" if server == "site" else f"{server}.log")
        predict_load.wait_until_serving(process, port, log)
        results = {}
        clients = {"token": getattr(args, "token", None), "anonymous": None}
        for client, token in clients.items():
            for concurrency in (1, args.concurrency):
                results[client, concurrency] = measure(
                    server, process.pid, port, bodies, concurrency,
                    token if server == "site" else None, args,
                )  # fmt: skip
        if server == "site":
            for concurrency in (1, args.concurrency):
                results["preview", concurrency] = measure(
                    server, process.pid, port, bodies, concurrency, None, args, preview=True
                )
            created = sum(result["created"] for result in results.values())
            rows = predict_load.submission_count(args, var)
            results["stored"] = (created, rows)
        return results
    finally:
        harness.stop(process, timeout=15)


def print_table(rounds: list[dict], args) -> None:
    print("\n| client | server | p50 ms (1 conn) | p99 ms (8) | req/s (8) | errors |")
    print("| --- | --- | --- | --- | --- | --- |")
    for client in ("token", "anonymous"):
        for server in SERVERS:
            cells = []
            for key, fmt in (((client, 1), "p50"), ((client, args.concurrency), "p99"),
                             ((client, args.concurrency), "rate")):  # fmt: skip
                cells.append(" / ".join(f"{r[server][key][fmt]:.1f}" for r in rounds))
            errors = sum(
                r[server][client, c]["errors"] for r in rounds for c in (1, args.concurrency)
            )
            print(f"| {client} | {server} | {' | '.join(cells)} | {errors} |")
    print("\nRatios, site / bentoml and site / floor, per round:")
    for client in ("token", "anonymous"):
        for other in ("bentoml", "floor"):
            p50 = [r["site"][client, 1]["p50"] / r[other][client, 1]["p50"] for r in rounds]
            rate = [
                r["site"][client, args.concurrency]["rate"]
                / r[other][client, args.concurrency]["rate"]
                for r in rounds
            ]
            print(
                f"- {client}, site/{other}: p50 "
                + ", ".join(f"{x:.2f}" for x in p50)
                + "; req/s at 8 "
                + ", ".join(f"{x:.2f}" for x in rate)
            )
    preview = [r["site"]["preview", 1]["p50"] / r["floor"]["anonymous", 1]["p50"] for r in rounds]
    rates = [r["site"]["preview", args.concurrency]["rate"] for r in rounds]
    errors = sum(r["site"]["preview", c]["errors"] for r in rounds for c in (1, args.concurrency))
    print(
        "- the site's preview (not stored, anonymous) / floor: p50 "
        + ", ".join(f"{x:.2f}" for x in preview)
        + f"; preview req/s at {args.concurrency}: "
        + ", ".join(f"{x:.0f}" for x in rates)
        + f"; errors {errors}"
    )
    for index, r in enumerate(rounds, 1):
        created, rows = r["site"]["stored"]
        print(f"round {index}: the site answered {created:,} 201s and holds {rows:,} rows")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--drawings", type=int, default=200)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/mnistsite_bench_versus"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/10")
    parser.add_argument("--throttle-rate", default="1000000/min")
    parser.add_argument("--predictor-threads", type=int, default=1)
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="bench-versus-"))
    bodies = var / "bodies.json"
    bodies.write_text(json.dumps(drawings(args.drawings)))
    sizes = [len(item["body"]) for item in json.loads(bodies.read_text())]
    print(f"{len(sizes)} drawings, bodies {min(sizes):,}-{max(sizes):,} bytes; var {var}")
    rounds = []
    for number in range(1, args.rounds + 1):
        results = {}
        for server in SERVERS:
            started = time.monotonic()
            results[server] = run_server(server, args, var / f"{server}-{number}", bodies)
            print(f"round {number}: {server} measured in {time.monotonic() - started:.0f} s")
        rounds.append(results)
    print_table(rounds, args)


if __name__ == "__main__":
    main()
