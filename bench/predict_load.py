"""Benchmark: latency and throughput of `POST /api/v1/predictions/` under gunicorn.

    .venv/bin/python -m bench.predict_load                       # Procfile's 2 workers x 4 threads
    .venv/bin/python -m bench.predict_load --workers 2 3 --threads 1 4 --concurrency 1 4 16
    .venv/bin/python -m bench.predict_load --database-url sqlite  # the embedded default

For each gunicorn configuration and each predictor mode (`direct`, the site
as it is, and `predict`, `model.predict()` per request, the original demo's
way and the baseline: bench/baseline_wsgi.py) this starts gunicorn as the
Procfile does (tests/harness/processes.py) on loopback, production-like
(DEBUG off, no SSL redirect), waits until every worker has loaded the model,
then runs the load generator (bench/loadgen.py, its own process) at each
concurrency: closed loop, keep-alive connections, a warm-up and a measured
window. The bodies are what the drawing page sends: JSON
`{"image": "data:image/png;base64,..."}` of its canvas with one of ten digits
drawn as the page draws them (tests/harness/canvas.py).

Every answer but 201 is an error. Stored submissions are counted before and
after each server's run and compared with the 201s it answered.

The database is PostgreSQL by default: the database named in --database-url
is DROPPED and created afresh on every run, so give it one of its own. The
cache (throttle counters) is Redis db 5 (flushed), the broker Redis db 4.
`--database-url sqlite` measures the embedded default instead (SQLite and a
file cache under a temporary DJANGO_VAR_DIR, no Redis).

Anonymous clients (default) go through both throttles (anon and user scope,
one atomic Redis increment each, mnistsite/rate_windows.py) with
THROTTLE_ANON_RATE and THROTTLE_USER_RATE at --throttle-rate, by default
1000000/sec: never refused. `--client staff` sends a staff user's token
instead (no throttle runs; the token costs a query and a read of the
token-failure count).

The machine may be shared: each level reports the CPU that other processes
used meanwhile ("others"); `--quiet-wait S` waits for the machine to idle
before each level and `--retries N` measures a disturbed level again.

`--profile N` then sends N requests straight into the WSGI application in
this process, one at a time, and times each stage (throttles, decoding and
preprocessing, inference, the INSERT, serialising, ...), same settings.

gunicorn is stopped however the script ends (Ctrl-C, SIGTERM, an error);
the temporary folder (model store, logs) is removed unless --keep.
"""

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.harness import processes as harness
from tests.harness.canvas import DIGITS, canvas_png, data_url
from tests.harness.processes import PYTHON, ROOT

PATH = "/api/v1/predictions/"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# The WSGI application gunicorn serves in each predictor mode.
APPLICATIONS = {
    "direct": "mnistsite.wsgi:application",
    "predict": "bench.baseline_wsgi:application",
}

# --- The drawings ---------------------------------------------------------------


def request_bodies() -> list[dict]:
    """One request body per digit, and the digit."""
    return [
        {"body": json.dumps({"image": data_url(canvas_png(strokes))}), "label": digit}
        for digit, strokes in DIGITS.items()
    ]


# --- Environment ----------------------------------------------------------------


def server_env(args: argparse.Namespace, var_dir: Path) -> dict[str, str]:
    env = harness.site_env(
        var_dir=var_dir,
        static_root=var_dir / "static",
        model_store=var_dir / "models",
        secret_key="bench-only-" + "k" * 50,
        THROTTLE_ANON_RATE=args.throttle_rate,
        THROTTLE_USER_RATE=args.throttle_rate,
        PREDICTOR_THREADS=str(args.predictor_threads),
    )
    (var_dir / "static").mkdir(parents=True, exist_ok=True)
    if args.database_url != "sqlite":
        env.update(
            DATABASE_URL=args.database_url,
            REDIS_URL=args.redis_url,
            CELERY_BROKER_URL=args.broker_url,
        )
    return env


def recreate_postgres_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def submission_count(args: argparse.Namespace, var_dir: Path) -> int:
    """Rows of recognizer.models.Submission, counted in SQL: without starting
    Django, so a half-edited module elsewhere in the project cannot stop it."""
    query = "SELECT count(*) FROM recognizer_submission"
    if args.database_url == "sqlite":
        with contextlib.closing(sqlite3.connect(var_dir / "db.sqlite3")) as connection:
            return connection.execute(query).fetchone()[0]
    import psycopg

    with psycopg.connect(args.database_url) as connection:
        return connection.execute(query).fetchone()[0]


def api_token(env: dict[str, str], *, staff: bool) -> str:
    """A token of a staff user (never throttled) or, `staff` false, of a user
    who is not staff, as an integrator has (throttled like any API client)."""
    username = "bench-staff" if staff else "bench-integrator"
    code = (
        "from django.contrib.auth import get_user_model; "
        "from rest_framework.authtoken.models import Token; "
        f"u, _ = get_user_model().objects.get_or_create(username='{username}', "
        f"defaults={{'is_staff': {staff}}}); "
        "print(Token.objects.get_or_create(user=u)[0].key)"
    )
    return harness.manage(env, "shell", "-c", code).splitlines()[-1]


def flush_cache(args: argparse.Namespace) -> None:
    if args.database_url != "sqlite":
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()


# --- CPU accounting (from /proc: Linux only) --------------------------------------


def _all_stats() -> dict[int, tuple[str, int, float]]:
    """pid -> (command, parent pid, CPU seconds so far)."""
    stats = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        command = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        stats[int(entry.name)] = (
            command,
            int(fields[1]),
            (int(fields[11]) + int(fields[12])) / CLK_TCK,
        )
    return stats


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / CLK_TCK, sum(values[:8]) / CLK_TCK


def cpu_snapshot(server_pid: int) -> dict:
    """CPU seconds so far of each process that counts (gunicorn's, PostgreSQL's,
    Redis's), by pid, and of the whole machine."""
    stats = _all_stats()
    tree, grew = {server_pid}, True
    while grew:
        more = {pid for pid, (_, parent, _) in stats.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    processes = {}
    for pid, (command, _, seconds) in stats.items():
        if pid in tree:
            processes[pid] = ("gunicorn", seconds)
        elif command == "postgres":
            processes[pid] = ("postgres", seconds)
        elif command.startswith("redis-server"):
            processes[pid] = ("redis", seconds)
    busy, total = _machine_busy()
    return {"processes": processes, "machine": busy, "machine_total": total}


def cpu_between(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds used between two snapshots, per kind of process. A process
    that ended in between is lost here (the machine's total still has it)."""
    used = {"gunicorn": 0.0, "postgres": 0.0, "redis": 0.0}
    for pid, (kind, seconds) in after["processes"].items():
        used[kind] += seconds - before["processes"].get(pid, (kind, 0.0))[1]
    used["machine"] = after["machine"] - before["machine"]
    used["machine_total"] = after["machine_total"] - before["machine_total"]
    return used


def worker_rss_mib(server_pid: int) -> list[float]:
    """Resident memory of each gunicorn worker (the master's children)."""
    sizes = []
    for pid, (_, parent, _) in _all_stats().items():
        if parent != server_pid:
            continue
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
    return sizes


def gunicorn_cpu(server_pid: int) -> float:
    processes = cpu_snapshot(server_pid)["processes"].values()
    return sum(seconds for kind, seconds in processes if kind == "gunicorn")


def wait_for_quiet(server_pid: int, *, limit: float, threshold: float = 0.15) -> float:
    """Wait (at most `limit` seconds) until the rest of the machine uses less
    than `threshold` of a core over 3 s; the others' share last seen."""
    deadline = time.monotonic() + limit
    while True:
        before = cpu_snapshot(server_pid)
        time.sleep(3.0)
        used = cpu_between(before, cpu_snapshot(server_pid))
        others = (used["machine"] - used["gunicorn"]) / 3.0
        if others < threshold or time.monotonic() > deadline:
            return others


# --- The server -------------------------------------------------------------------


def start_gunicorn(
    env: dict[str, str],
    *,
    workers: int,
    threads: int,
    port: int,
    log_dir: Path,
    name: str,
    capture_output: bool = False,
    application: str = APPLICATIONS["direct"],
) -> subprocess.Popen:
    """As the Procfile starts it, on a loopback port, its access and error logs
    in `log_dir`. `capture_output`: the workers' own output (Django's log
    lines) goes to the error log too, instead of this terminal."""
    command = harness.procfile_command(
        "web",
        {"PORT": port, "WEB_CONCURRENCY": workers, "WEB_THREADS": threads},
        options={
            "--access-logfile": str(log_dir / f"access-{name}.log"),
            "--error-logfile": str(log_dir / f"error-{name}.log"),
        },
        flags=["--capture-output"] if capture_output else [],
    )
    command[command.index(APPLICATIONS["direct"])] = application
    return harness.start(command, env=env)


def stop_gunicorn(process: subprocess.Popen) -> None:
    harness.stop(process, timeout=15)


def wait_until_serving(process: subprocess.Popen, port: int, log: Path) -> None:
    """Until /healthz answers 200 and the workers stop using CPU (each loads
    and warms the model at start)."""
    import http.client

    deadline = time.monotonic() + 180
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text()[-3000:] if log.exists() else ""
            raise SystemExit(f"gunicorn did not start serving:\n{tail}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                break
        except OSError:
            pass
        time.sleep(0.5)
    previous = gunicorn_cpu(process.pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        current = gunicorn_cpu(process.pid)
        if current - previous < 0.05:
            return
        previous = current


def check_recognition(port: int, bodies: list[dict], headers: dict[str, str]) -> tuple[int, str]:
    """Each drawing once: (201s, "what each was read as")."""
    import http.client

    created, read_as = 0, []
    for item in bodies:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("POST", PATH, body=item["body"], headers=headers)
        response = connection.getresponse()
        answer = json.loads(response.read())
        created += response.status == 201
        read_as.append(f"{item['label']}->{answer.get('digit', response.status)}")
        connection.close()
    return created, " ".join(read_as)


# --- One load level --------------------------------------------------------------


def expect_line(generator: subprocess.Popen, expected: str) -> None:
    line = generator.stdout.readline().strip() if generator.stdout else ""
    if line != expected:
        raise RuntimeError(f"load generator said {line!r}, not {expected!r}")


def run_load(
    *,
    port: int,
    bodies_file: Path,
    concurrency: int,
    args: argparse.Namespace,
    server_pid: int,
    headers: list[str],
) -> dict:
    command = [
        PYTHON, "-m", "bench.loadgen",
        "--url", f"http://127.0.0.1:{port}{PATH}", "--bodies", str(bodies_file),
        "--concurrency", str(concurrency), "--seconds", str(args.seconds),
        "--warmup", str(args.warmup),
    ]  # fmt: skip
    for header in headers:
        command += ["--header", header]
    return drive_generator(command, server_pid)


def drive_generator(command: list[str], server_pid: int) -> dict:
    """Run a load generator process (the `measuring` / `done` / JSON protocol
    of loadgen.py) and add the CPU each process used while it measured."""
    generator = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        expect_line(generator, "measuring")
        before = cpu_snapshot(server_pid)
        expect_line(generator, "done")
        after = cpu_snapshot(server_pid)
        report = json.loads(generator.stdout.readline())
        generator.wait()
    finally:
        if generator.poll() is None:
            generator.kill()
            generator.wait()
    report["cpu"] = cpu_between(before, after)
    return report


def summarise(report: dict) -> dict:
    latencies = sorted(report["latencies_ms"])
    statuses = report["statuses"]
    count = sum(statuses.values()) + sum(report["errors"].values())
    errors = count - statuses.get("201", 0)

    def pct(q: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, round(q / 100 * (len(latencies) - 1)))]

    window, cpu = report["window_seconds"], report["cpu"]
    ok = statuses.get("201", 0)
    return {
        "requests": count,
        "errors": errors,
        "error_kinds": {k: v for k, v in {**statuses, **report["errors"]}.items() if k != "201"},
        # Not in the measured window, but an error all the same.
        "warmup_errors": {k: v for k, v in report["warmup_statuses"].items() if k != "201"},
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "rate": ok / window,
        "server_ms_per_request": 1000 * cpu["gunicorn"] / max(ok, 1),
        "gunicorn_pct": 100 * cpu["gunicorn"] / window,
        "postgres_pct": 100 * cpu["postgres"] / window,
        "redis_pct": 100 * cpu["redis"] / window,
        "loadgen_pct": 100 * report["cpu_seconds"] / window,
        # Whatever else ran on the machine meanwhile (other people's work).
        "others_pct": 100
        * max(
            0.0,
            cpu["machine"]
            - cpu["gunicorn"]
            - cpu["postgres"]
            - cpu["redis"]
            - report["cpu_seconds"],
        )
        / window,
        "wrong_digit": report["wrong_digit"],
    }


def created_total(report: dict) -> int:
    return report["statuses"].get("201", 0) + report["warmup_statuses"].get("201", 0)


class ServerRun:
    """One gunicorn started in one predictor mode, measured at each concurrency."""

    def __init__(self, *, mode: str, workers: int, threads: int) -> None:
        self.mode, self.workers, self.threads = mode, workers, threads
        self.config = f"{workers}x{threads} {'gthread' if threads > 1 else 'sync'}"

    def measure(
        self,
        env: dict[str, str],
        args: argparse.Namespace,
        var_dir: Path,
        bodies: list[dict],
        headers: list[str],
    ) -> dict:
        port = harness.free_port()
        flush_cache(args)
        rows_before = submission_count(args, var_dir)
        name = f"{self.mode}-{self.workers}x{self.threads}"
        server = start_gunicorn(
            env,
            workers=self.workers,
            threads=self.threads,
            port=port,
            log_dir=var_dir,
            name=name,
            application=APPLICATIONS[self.mode],
        )
        try:
            wait_until_serving(server, port, var_dir / f"error-{name}.log")
            rss = worker_rss_mib(server.pid)
            check_headers = {"Content-Type": "application/json"}
            check_headers.update(h.split(": ", 1) for h in headers)
            created, read_as = check_recognition(port, bodies, check_headers)
            levels = []
            for concurrency in args.concurrency:
                summary, answered = self.measure_level(
                    port, server.pid, var_dir / "bodies.json", concurrency, args, headers
                )
                created += answered
                levels.append({"concurrency": concurrency, "summary": summary})
        finally:
            stop_gunicorn(server)
        return {
            "config": self.config,
            "mode": self.mode,
            "levels": levels,
            "created": created,
            "stored": submission_count(args, var_dir) - rows_before,
            "read_as": read_as,
            "rss_mib": rss,
        }

    def measure_level(
        self,
        port: int,
        server_pid: int,
        bodies_file: Path,
        concurrency: int,
        args: argparse.Namespace,
        headers: list[str],
    ) -> tuple[dict, int]:
        """The least disturbed of up to 1 + args.retries attempts (others' CPU
        use above --disturbed-above of a core triggers another; an attempt
        with errors is kept, not retried), and the 201s of all attempts."""
        best, created = None, 0
        for attempt in range(1 + args.retries):
            if args.quiet_wait:
                wait_for_quiet(server_pid, limit=args.quiet_wait)
            report = run_load(
                port=port,
                bodies_file=bodies_file,
                concurrency=concurrency,
                args=args,
                server_pid=server_pid,
                headers=headers,
            )
            created += created_total(report)
            summary = summarise(report)
            summary["attempts"] = attempt + 1
            print(
                f"  {self.config} {self.mode} x{concurrency}: p50 {summary['p50']:.1f} ms, "
                f"{summary['rate']:.0f}/s, errors {summary['errors']}, "
                f"others {summary['others_pct']:.0f} % of a core",
                flush=True,
            )
            if summary["errors"] or summary["warmup_errors"]:
                best = summary  # errors are reported, never retried away
                break
            if best is None or summary["others_pct"] < best["others_pct"]:
                best = summary
            if summary["others_pct"] <= args.disturbed_above:
                break
        assert best is not None
        best["attempts"] = summary["attempts"]
        return best, created


# --- Reports ---------------------------------------------------------------------


def print_tables(results: list[dict]) -> None:
    print(
        "\n| gunicorn | mode | clients | requests | errors | p50 ms | p95 ms | p99 ms | req/s "
        "| gunicorn CPU ms/req | CPU % of a core: gunicorn / postgres / redis / loadgen / others |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        for level in r["levels"]:
            s = level["summary"]
            print(
                f"| {r['config']} | {r['mode']} | {level['concurrency']} | {s['requests']:,} "
                f"| {s['errors']} | {s['p50']:.1f} | {s['p95']:.1f} | {s['p99']:.1f} "
                f"| {s['rate']:.0f} | {s['server_ms_per_request']:.2f} "
                f"| {s['gunicorn_pct']:.0f} / {s['postgres_pct']:.0f} / {s['redis_pct']:.0f} "
                f"/ {s['loadgen_pct']:.0f} / {s['others_pct']:.0f} |"
            )
    print(
        "\n| gunicorn | mode | 201 answers (incl. warm-up and checks) | submissions stored | "
        "equal | worker memory (RSS, after warm-up) | drawings read as |"
    )
    print("| --- | --- | ---: | ---: | --- | --- | --- |")
    for r in results:
        rss = ", ".join(f"{x:.0f}" for x in r["rss_mib"])
        print(
            f"| {r['config']} | {r['mode']} | {r['created']:,} | {r['stored']:,} "
            f"| {'yes' if r['created'] == r['stored'] else '**no**'} | {rss} MiB "
            f"| {r['read_as']} |"
        )
    for r in results:
        for level in r["levels"]:
            s = level["summary"]
            if s["error_kinds"] or s["warmup_errors"] or s["wrong_digit"]:
                print(
                    f"- {r['config']} {r['mode']} x{level['concurrency']}: "
                    f"errors {s['error_kinds']}, in the warm-up {s['warmup_errors']}, "
                    f"wrong digits {s['wrong_digit']}"
                )
    print_verdict(results)


def _one_client(run: dict | None) -> dict | None:
    levels = run["levels"] if run else []
    return next((lv["summary"] for lv in levels if lv["concurrency"] == 1), None)


def print_verdict(results: list[dict]) -> None:
    by_config: dict[str, dict[str, dict]] = {}
    for r in results:
        by_config.setdefault(r["config"], {})[r["mode"]] = r
    print()
    for config, modes in by_config.items():
        direct, baseline = modes.get("direct"), modes.get("predict")
        if not direct:
            continue
        one = _one_client(direct)
        best = max(direct["levels"], key=lambda lv: lv["summary"]["rate"])["summary"]
        errors = sum(
            lv["summary"]["errors"] + sum(lv["summary"]["warmup_errors"].values())
            for lv in direct["levels"]
        )
        clauses = []
        if one:
            clause = f"p50 at 1 client {one['p50']:.1f} ms (target ≤ 10)"
            base = _one_client(baseline)
            if base:
                clause += (
                    f" = {one['p50'] / base['p50']:.2f} of predict()'s {base['p50']:.1f} ms"
                    " (target ≤ 0.20)"
                )
            clauses.append(clause)
        clauses.append(f"best {best['rate']:.0f} predictions/s (target ≥ 300)")
        clauses.append(f"errors {errors} (target 0)")
        clauses.append(f"stored = 201s: {direct['created'] == direct['stored']}")
        print(f"**{config}**: " + "; ".join(clauses))


# --- Profile of one request path ------------------------------------------------


def profile_requests(env: dict[str, str], bodies: list[dict], count: int, headers: list[str]):
    """Time `count` requests in this process, one at a time, stage by stage:
    straight into the WSGI application gunicorn calls (no HTTP, no test
    client), with timers wrapped around the functions each stage runs."""
    import cProfile
    import functools
    import io
    import pstats

    os.environ.update(env)
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    import numpy as np
    from django.urls import resolve
    from rest_framework import renderers, request, serializers

    from mnistsite import rate_windows
    from recognizer.imaging import inputs
    from recognizer.predictor import Predictor, predictor
    from recognizer.services import predictions as prediction_services

    spent: dict[str, float] = {}

    def timed(stage: str, function):
        @functools.wraps(function)
        def wrapper(*a, **k):
            started = time.perf_counter()
            try:
                return function(*a, **k)
            finally:
                spent[stage] = spent.get(stage, 0.0) + time.perf_counter() - started

        return wrapper

    # The view as routed, and the module whose names it calls (the code is
    # found by the path, so it survives modules being moved around).
    view = resolve(PATH).func.view_class
    api = sys.modules[view.__module__]
    # (owner, attribute, stage, top level?): sub-stages are parts of the stage above.
    stages = [
        (view, "perform_authentication", "authentication", True),
        (view, "check_throttles", "throttles (anon + user)", True),
        (rate_windows, "_count_in_window", "  the window counter (Redis)", False),
        (request.Request, "_parse", "parse the JSON body", True),
        (serializers.Serializer, "is_valid", "validate query and body (serializers)", True),
        (api, "digit_input_from", "image -> 28x28", True),
        (inputs, "bytes_from_base64", "  base64 decode", False),
        (inputs, "decode_image", "  PNG decode", False),
        (inputs, "ink_from_image", "  grey, background, ink", False),
        (inputs, "mnist_from_ink", "  crop, scale, centre", False),
        (api, "predict", "inference", True),
        (Predictor, "model", "  active-version check", False),
        (api, "submission_create", "store the submission (files, INSERT, commit)", True),
        (prediction_services, "images_keep", "  write the two image files", False),
        (api.PREDICTION, "of", "build the answer", True),
        (renderers.JSONRenderer, "render", "render the JSON answer", True),
    ]
    for owner, name, stage, _ in list(stages):
        found = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
        if found is None and isinstance(owner, type):
            found = getattr(owner, name, None)
        if isinstance(found, property):
            setattr(owner, name, property(timed(stage, found.fget)))
        elif found is not None:
            setattr(owner, name, timed(stage, found))
        else:
            print(f"(no {name} in {owner.__name__}: stage '{stage.strip()}' not timed)")
    extra = {}
    for header in headers:
        key, _, value = header.partition(":")
        extra["HTTP_" + key.strip().upper().replace("-", "_")] = value.strip()

    def post(i: int) -> None:
        body = bodies[i % len(bodies)]["body"].encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": PATH,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            **extra,
        }
        status = []
        answer = application(environ, lambda s, h, e=None: status.append(s))
        b"".join(answer)
        answer.close()
        if not status[0].startswith("201"):
            raise RuntimeError(f"the profiled request was answered {status[0]}")

    for i in range(50):
        post(i)
    spent.clear()
    started, cpu_started = time.perf_counter(), time.process_time()
    for i in range(count):
        post(i)
    total = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    print(f"\nIn-process, one thread, {count} requests into the WSGI application:\n")
    print("| stage | ms per request | share |")
    print("| --- | ---: | ---: |")
    for _, _, stage, _top in stages:
        label = f"↳ {stage.strip()}" if stage.startswith("  ") else stage
        print(
            f"| {label} | {1000 * spent.get(stage, 0) / count:.2f} "
            f"| {100 * spent.get(stage, 0) / total:.0f} % |"
        )
    rest = total - sum(spent.get(stage, 0) for _, _, stage, top in stages if top)
    print(
        f"| the rest (Django middleware, URL routing, DRF dispatch, response) "
        f"| {1000 * rest / count:.2f} | {100 * rest / total:.0f} % |"
    )
    print(f"| **total** | **{1000 * total / count:.2f}** | 100 % |")
    print(
        f"\nCPU time of this process: {1000 * cpu / count:.2f} ms per request; the rest "
        "of the wall time is waiting (PostgreSQL, Redis)."
    )

    model = predictor().model()
    image = np.zeros((1, 28, 28), dtype=np.float32)
    image[0, 4:24, 12:16] = 1.0
    for _ in range(20):
        model.infer(image)
    started = time.perf_counter()
    for _ in range(count):
        model.infer(image)
    alone = (time.perf_counter() - started) / count
    print(f"\nThe model alone, one image, as the site calls it: {1000 * alone:.2f} ms per call.")

    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(count):
        post(i)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
    print("\ncProfile, by own time (profiler overhead inflates Python-heavy code):\n")
    print("```\n" + "\n".join(out.getvalue().strip().splitlines()[:34]) + "\n```")


# --- Main --------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--modes", nargs="+", default=["direct", "predict"], choices=["direct", "predict"]
    )
    parser.add_argument("--concurrency", nargs="+", type=int, default=[1, 2, 4, 8, 16])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured, per level")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--workers", nargs="+", type=int, default=[2], help="gunicorn --workers")
    parser.add_argument(
        "--threads",
        nargs="+",
        type=int,
        default=[2],
        help="gunicorn --threads (1: sync workers); every workers x threads pair runs",
    )
    parser.add_argument("--predictor-threads", type=int, default=1, help="PREDICTOR_THREADS")
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/mnistsite_bench",
        help="PostgreSQL database to DROP and recreate, or 'sqlite' (embedded default)",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5", help="cache (flushed)")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/4")
    parser.add_argument("--client", choices=["anonymous", "staff"], default="anonymous")
    parser.add_argument(
        "--throttle-rate", default="1000000/sec", help="THROTTLE_ANON_RATE and THROTTLE_USER_RATE"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each level, wait up to this long for the rest of the machine to idle",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=0,
        help="measure a level again (at most this many times) when others disturbed it",
    )
    parser.add_argument(
        "--disturbed-above",
        type=float,
        default=15.0,
        metavar="PERCENT",
        help="others' CPU use, in %% of one core, that counts as disturbed",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="then time N requests in-process, stage by stage",
    )
    parser.add_argument("--profile-only", action="store_true", help="skip the load runs")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    var_dir = Path(tempfile.mkdtemp(prefix="bench-predict-"))
    try:
        run(args, var_dir)
    finally:
        if not args.keep:
            shutil.rmtree(var_dir, ignore_errors=True)


def run(args: argparse.Namespace, var_dir: Path) -> None:
    env = server_env(args, var_dir)
    if args.database_url != "sqlite":
        recreate_postgres_database(args.database_url)
    flush_cache(args)
    harness.manage(env, "migrate", "--noinput")
    harness.manage(env, "ensure_bundled_model")
    headers = []
    if args.client == "staff":
        headers.append(f"Authorization: Token {api_token(env, staff=True)}")
    bodies = request_bodies()
    bodies_file = var_dir / "bodies.json"
    bodies_file.write_text(json.dumps(bodies))

    started = time.strftime("%Y-%m-%d %H:%M")
    print("command: .venv/bin/python -m bench.predict_load " + " ".join(sys.argv[1:]))
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    print(f"code: {commit or 'unknown'}")
    print(
        f"{started}; {os.cpu_count()} cores; {platform.python_version()}; "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    print(
        f"database {'SQLite (embedded)' if args.database_url == 'sqlite' else 'PostgreSQL'}; "
        f"client {args.client}; bodies {min(len(b['body']) for b in bodies):,}-"
        f"{max(len(b['body']) for b in bodies):,} bytes; var {var_dir}"
    )

    results: list[dict] = []
    for workers in [] if args.profile_only else args.workers:
        for threads in args.threads:
            for mode in args.modes:
                server_run = ServerRun(mode=mode, workers=workers, threads=threads)
                results.append(server_run.measure(env, args, var_dir, bodies, headers))
    if results:
        print_tables(results)
        print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    if args.profile:
        flush_cache(args)
        profile_requests(env, bodies, args.profile, headers)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted; gunicorn stopped")
