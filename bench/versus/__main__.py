"""Benchmark: this site against a dedicated model server and a bare floor,
side by side on one machine, driven by one client.

    pip install -e '.[versus]'    # BentoML, Starlette and uvicorn, for this only
    .venv/bin/python -m bench.versus [--rounds 2] [--seconds 20] [--drawings 200]
                                     [--site 2x2 2x4 2x1]

Each round starts each server in turn, alone on the machine:

- **site**: this project with production settings (DEBUG off, PostgreSQL,
  Redis, gunicorn as the Procfile starts it), once per `--site` shape
  (workers x threads: 2x2 is the Procfile's default, gthread; 2x1 is
  gunicorn's sync worker); every 201 is a committed row, checked against the
  table;
- **bentoml**: BentoML 1.4 serving the same compiled model through the same
  Django-free preprocessing (bench/versus/bento.py), 2 workers;
- **floor**: the same behind bare Starlette on uvicorn, 2 workers, storing
  nothing (bench/versus/floor.py).

Each is driven by bench/loadgen.py (keep-alive, one connection per client)
with realistic drawings: the held-out writers' pen-drawn digits (PENDIGITS_DIR)
drawn on the page's 280x280 canvas with the page's pen, as PNG data URLs. Two
clients: one with an API token of a user who is not staff (as an integrator
has: authenticated and throttled), one anonymous; each first alone
(1 connection), then 8 at once. BentoML and the floor have no tokens: both of
their clients send the same anonymous requests. The site's throttles are raised out of
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

PATH = "/api/v1/predictions/"
OTHERS = ("bentoml", "floor")


def is_site(server: str) -> bool:
    return server.startswith("site")


def shape(server: str) -> tuple[int, int]:
    """'site 2x4' -> (2 workers, 4 threads)."""
    workers, threads = server.split()[1].split("x")
    return int(workers), int(threads)


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
    if is_site(server):
        predict_load.recreate_postgres_database(args.database_url)
        predict_load.flush_cache(args)
        env = predict_load.server_env(args, var)
        env["THROTTLE_PREVIEW_RATE"] = args.throttle_rate
        harness.manage(env, "migrate", "--noinput")
        harness.manage(env, "ensure_bundled_model")
        args.token = predict_load.api_token(env, staff=False)
        workers, threads = shape(server)
        return predict_load.start_gunicorn(
            env, workers=workers, threads=threads, port=port, log_dir=var, name="site",
            capture_output=True,
        )  # fmt: skip
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
    ok_status = "201" if is_site(server) and not preview else "200"
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
        "p95": latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))],
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
        log = var / ("error-site.log" if is_site(server) else f"{server}.log")
        predict_load.wait_until_serving(process, port, log)
        results = {}
        clients = {"token": getattr(args, "token", None), "anonymous": None}
        for client, token in clients.items():
            for concurrency in (1, args.concurrency):
                results[client, concurrency] = measure(
                    server, process.pid, port, bodies, concurrency,
                    token if is_site(server) else None, args,
                )  # fmt: skip
        if is_site(server):
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
    servers = list(rounds[0])
    many = args.concurrency
    cell = " / ".join
    print(f"\n| client | server | p50 ms, 1 conn | p50 ms, {many} | p99 ms, {many} "
          f"| p99 / p50, {many} | req/s, {many} | errors |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for client in ("token", "anonymous", "preview"):
        for server in servers:
            if client == "preview" and not is_site(server):
                continue
            one = [r[server][client, 1] for r in rounds]
            load = [r[server][client, many] for r in rounds]
            errors = sum(level["errors"] for level in one + load)
            columns = [
                cell(f"{x['p50']:.1f}" for x in one),
                cell(f"{x['p50']:.1f}" for x in load),
                cell(f"{x['p99']:.1f}" for x in load),
                cell(f"{x['p99'] / x['p50']:.2f}" for x in load),
                cell(f"{x['rate']:.0f}" for x in load),
            ]
            print(f"| {client} | {server} | {' | '.join(columns)} | {errors} |")
    print("\nRatios per round (site / other; the others' clients are all anonymous):")
    for server in (s for s in servers if is_site(s)):
        for client in ("token", "anonymous", "preview"):
            for other in OTHERS:
                base = "anonymous" if client == "preview" else client
                p50 = [r[server][client, 1]["p50"] / r[other][base, 1]["p50"] for r in rounds]
                rate = [r[server][client, many]["rate"] / r[other][base, many]["rate"]
                        for r in rounds]  # fmt: skip
                print(
                    f"- {server}, {client} / {other}: p50 {', '.join(f'{x:.2f}' for x in p50)}"
                    f"; req/s at {many} {', '.join(f'{x:.2f}' for x in rate)}"
                )
        for index, r in enumerate(rounds, 1):
            created, rows = r[server]["stored"]
            print(f"round {index}: {server} answered {created:,} 201s and holds {rows:,} rows")


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
    parser.add_argument(
        "--site", nargs="+", default=["2x2"], metavar="WxT",
        help="gunicorn shapes to measure the site in: workers x threads (1: sync worker)",
    )  # fmt: skip
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="bench-versus-"))
    bodies = var / "bodies.json"
    bodies.write_text(json.dumps(drawings(args.drawings)))
    sizes = [len(item["body"]) for item in json.loads(bodies.read_text())]
    print(f"{len(sizes)} drawings, bodies {min(sizes):,}-{max(sizes):,} bytes; var {var}")
    rounds = []
    for number in range(1, args.rounds + 1):
        results = {}
        for server in [f"site {site}" for site in args.site] + list(OTHERS):
            started = time.monotonic()
            folder = var / f"{server.replace(' ', '-')}-{number}"
            results[server] = run_server(server, args, folder, bodies)
            print(f"round {number}: {server} measured in {time.monotonic() - started:.0f} s")
        rounds.append(results)
    print_table(rounds, args)


if __name__ == "__main__":
    main()
