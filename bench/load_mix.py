"""Benchmark: the drawing page's visitors, mixed, against gunicorn on loopback.

    .venv/bin/python -m bench.load_mix                  # both phases, 20 s each
    .venv/bin/python -m bench.load_mix --seconds 5      # a quick check
    .venv/bin/python -m bench.load_mix --rate 80 --clients 128 --previews 5 --feedback-share 0.3
    .venv/bin/python -m bench.load_mix --phases saturation --addresses 64

What real visitors do, mixed: each visit is `GET /` (the drawing page: a new
session and the CSRF cookie), then per digit `--previews` live guesses
(`POST /api/v1/predictions/?preview=true`, answered, not stored), one stored
prediction (201) and, for `--feedback-share` of them, feedback on it
(`POST /api/v1/predictions/{id}/feedback/`, same session), all as the page's
script sends them (session cookie, `X-CSRFToken` from the csrftoken cookie,
JSON with a 280x280 canvas PNG data URL, see predict_load.request_bodies).
The visitors are threads of bench/mixgen.py, a process of its own.

Two phases, each against a gunicorn started as the Procfile starts it
(2 workers x 4 threads), production-like (DEBUG off, no SSL redirect), on
PostgreSQL (the database of --database-url is DROPPED and created afresh)
and Redis (db of --redis-url, flushed before each phase: cache, throttle
counters and broker), with the bundled model active:

1. sustainable: open loop, Poisson arrivals at --rate requests/s (all kinds
   together), throttles never refusing. Expected: low latency, every answer
   the expected one (200 page, 200 preview, 201 stored, 200 feedback).
2. saturation: closed loop, --clients visitors with no pause between requests,
   throttles at the settings' production defaults (THROTTLE_* unset). All
   visitors come from 127.0.0.1 (one address, as behind one NAT) unless
   --addresses spreads them, so 429s appear; 429 and 503 are acceptable here.

Measured per kind of request and overall: requests/s, p50/p95/p99 latency,
statuses, 5xx and connection errors; then rows: stored predictions against
201s, submissions with feedback and training samples against feedback 200s,
sessions against page loads (warm-up included). The exit status is 1 when an
answer was a 5xx (other than 503 past saturation) or a status not expected
for its phase, a connection failed, or rows and answers differ.

The report (markdown) is printed and written to var/bench/load_mix.md, the
raw numbers to var/bench/load_mix.json, each phase's server log (Django's
lines included) beside them. gunicorn is stopped however the script ends.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.predict_load import (
    drive_generator,
    flush_cache,
    recreate_postgres_database,
    request_bodies,
    server_env,
    start_gunicorn,
    stop_gunicorn,
    wait_until_serving,
)
from tests.harness.processes import PYTHON, ROOT, free_port, manage

KINDS = {  # kind -> (label, the answer a working site gives)
    "page": ("`GET /` page load", "200"),
    "preview": ("preview (`?preview=true`)", "200"),
    "stored": ("stored prediction", "201"),
    "feedback": ("feedback", "200"),
}
NEVER_REFUSE = "1000000/sec"  # as predict_load: a one-second list per client stays short
# Options passed on to bench/mixgen.py as they are.
MIXGEN_OPTIONS = [
    "rate",
    "seconds",
    "warmup",
    "digits",
    "previews",
    "feedback_share",
    "addresses",
    "seed",
]
THROTTLE_VARS = (
    "THROTTLE_ANON_RATE",
    "THROTTLE_USER_RATE",
    "THROTTLE_PREVIEW_RATE",
    "THROTTLE_SESSION_RATE",  # every visitor comes from one address unless --addresses
    "THROTTLE_TOKEN_FAILURE_RATE",
)


@dataclass(frozen=True)
class Phase:
    name: str
    loop: str  # "open" or "closed"
    clients: int
    production_throttles: bool

    def acceptable(self, kind: str) -> set[str]:
        """Statuses that do not fail the run: the expected one, and past
        saturation the site's ways of saying no (throttled, overloaded)."""
        return {KINDS[kind][1]} | ({"429", "503"} if self.production_throttles else set())


# --- Preparing the site --------------------------------------------------------


def base_env(args: argparse.Namespace, var_dir: Path) -> dict[str, str]:
    settings = argparse.Namespace(
        throttle_rate=NEVER_REFUSE,
        predictor_threads=1,
        database_url=args.database_url,
        redis_url=args.redis_url,
        broker_url=args.redis_url,  # one Redis db for everything: only it is ours
    )
    return server_env(settings, var_dir)


def phase_env(env: dict[str, str], phase: Phase) -> dict[str, str]:
    env = {k: v for k, v in env.items() if k not in THROTTLE_VARS}
    if not phase.production_throttles:
        env.update(dict.fromkeys(THROTTLE_VARS, NEVER_REFUSE))
    return env


def prepare_site(args: argparse.Namespace, env: dict[str, str]) -> None:
    recreate_postgres_database(args.database_url)
    manage(env, "migrate", "--noinput")
    manage(env, "ensure_bundled_model")
    # The page links its scripts by hashed names, read from collectstatic's
    # manifest when DEBUG is off: without it `GET /` is a 500.
    manage(env, "collectstatic", "--noinput")


def throttle_rates(env: dict[str, str]) -> dict[str, str]:
    """The rates the server will apply, as its settings read them."""
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']))"
    )
    return json.loads(manage(env, "shell", "-c", code).splitlines()[-1])


def row_counts(database_url: str) -> dict[str, int]:
    """Counted in SQL, without Django, so a half-edited module elsewhere in
    the project cannot stop the count."""
    import psycopg

    with psycopg.connect(database_url) as connection:
        submissions, with_feedback = connection.execute(
            "SELECT count(*), count(feedback_label) FROM recognizer_submission"
        ).fetchone()
        (samples,) = connection.execute("SELECT count(*) FROM training_labelledsample").fetchone()
        (sessions,) = connection.execute("SELECT count(*) FROM django_session").fetchone()
    return {
        "submissions": submissions,
        "with_feedback": with_feedback,
        "samples": samples,
        "sessions": sessions,
    }


# --- One phase -------------------------------------------------------------------


def run_phase(phase: Phase, env: dict[str, str], args: argparse.Namespace, var_dir: Path) -> dict:
    env = phase_env(env, phase)
    rates = throttle_rates(env)
    flush_cache(args)  # throttle counters start from nothing
    before = row_counts(args.database_url)
    port = free_port()
    server = start_gunicorn(
        env,
        workers=args.workers,
        threads=args.threads,
        port=port,
        log_dir=var_dir,
        name=phase.name,
        # Past saturation Django logs a warning per 429: into the log, not here.
        capture_output=True,
    )
    try:
        wait_until_serving(server, port, var_dir / f"error-{phase.name}.log")
        report = run_mixgen(phase, port, args, var_dir, server.pid)
    finally:
        stop_gunicorn(server)
    after = row_counts(args.database_url)
    report["rows"] = {name: after[name] - before[name] for name in after}
    report["throttle_rates"] = rates
    report["server_log"] = keep_server_log(var_dir / f"error-{phase.name}.log", phase, args)
    return report


def run_mixgen(
    phase: Phase, port: int, args: argparse.Namespace, var_dir: Path, server_pid: int
) -> dict:
    options = {
        "port": port,
        "bodies": var_dir / "bodies.json",
        "loop": phase.loop,
        "clients": phase.clients,
        **{name: getattr(args, name) for name in MIXGEN_OPTIONS},
    }
    command = [PYTHON, "-m", "bench.mixgen"]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    return drive_generator(command, server_pid)


def keep_server_log(log: Path, phase: Phase, args: argparse.Namespace) -> dict:
    """Copy the phase's server log beside the report; count its error lines
    (a 500 is logged by Django as ERROR with its traceback)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    kept = Path(args.out) / f"load_mix-{phase.name}-server.log"
    kept.write_text(text)
    lines = text.splitlines()
    return {
        "path": str(kept.relative_to(ROOT) if kept.is_relative_to(ROOT) else kept),
        "error_lines": sum((" ERROR " in x or "[ERROR]" in x or "CRITICAL" in x) for x in lines),
        "tracebacks": text.count("Traceback (most recent call last)"),
    }


# --- Summaries and checks ----------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


def summarise(kinds: list[dict], window: float) -> dict:
    """One row of the table: the measured requests of these kinds together."""
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    latencies: list[float] = []
    for kind in kinds:
        for status, count in kind["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
        for name, count in kind["errors"].items():
            errors[name] = errors.get(name, 0) + count
        for values in kind["latencies_ms"].values():
            latencies.extend(values)
    latencies.sort()
    requests = sum(statuses.values()) + sum(errors.values())
    failed = sum(n for s, n in statuses.items() if s.startswith("5")) + sum(errors.values())
    return {
        "requests": requests,
        "rate": requests / window,
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "statuses": dict(sorted(statuses.items())),
        "errors": errors,
        "failed": failed,
        "error_rate": failed / requests if requests else 0.0,
    }


def answered(kind: dict, status: str) -> int:
    """Answers with this status, warm-up included (rows are made then too)."""
    return kind["statuses"].get(status, 0) + kind["warmup_statuses"].get(status, 0)


def row_checks(report: dict) -> list[tuple[str, int, int]]:
    """(what, answers, rows): each pair must be equal."""
    kinds, rows = report["kinds"], report["rows"]
    stored, feedback = answered(kinds["stored"], "201"), answered(kinds["feedback"], "200")
    return [
        ("stored predictions: 201s / `recognizer_submission` rows", stored, rows["submissions"]),
        ("feedback: 200s / submissions with a feedback label", feedback, rows["with_feedback"]),
        ("feedback: 200s / training samples", feedback, rows["samples"]),
        ("page loads: 200s / new sessions", answered(kinds["page"], "200"), rows["sessions"]),
    ]


def failures(phase: Phase, report: dict) -> list[str]:
    found = []
    for kind, (label, _) in KINDS.items():
        tally = report["kinds"][kind]
        for part in ("statuses", "warmup_statuses"):
            for status, count in tally[part].items():
                if status not in phase.acceptable(kind):
                    found.append(f"{phase.name}: {label}: {count} answered {status} ({part})")
        for part in ("errors", "warmup_errors"):
            for name, count in tally[part].items():
                found.append(f"{phase.name}: {label}: {count} connection errors {name} ({part})")
    for what, answers, rows in row_checks(report):
        if answers != rows:
            found.append(f"{phase.name}: {what}: {answers} answers, {rows} rows")
    return found


# --- The report ---------------------------------------------------------------------


def phase_title(phase: Phase, args: argparse.Namespace, report: dict) -> str:
    rates = ", ".join(f"{k} {v}" for k, v in report["throttle_rates"].items())
    if phase.loop == "open":
        load = f"open loop, Poisson arrivals at {args.rate:g} requests/s, {phase.clients} threads"
        throttles = f"throttles never refusing ({rates})"
    else:
        load = f"closed loop, {phase.clients} visitors without pauses"
        throttles = f"throttles at the production defaults ({rates})"
    return f"### {phase.name.capitalize()}: {load}; {throttles}"


def phase_markdown(phase: Phase, args: argparse.Namespace, report: dict) -> list[str]:
    window = report["window_seconds"]
    lines = [
        phase_title(phase, args, report),
        "",
        "| request | requests | req/s | p50 ms | p95 ms | p99 ms | statuses "
        "| 5xx + connection errors | error rate |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    rows = [(label, summarise([report["kinds"][k]], window)) for k, (label, _) in KINDS.items()]
    rows.append(("**all**", summarise(list(report["kinds"].values()), window)))
    for label, s in rows:
        statuses = ", ".join(f"{k}: {v:,}" for k, v in {**s["statuses"], **s["errors"]}.items())
        lines.append(
            f"| {label} | {s['requests']:,} | {s['rate']:.1f} | {s['p50']:.1f} | {s['p95']:.1f} "
            f"| {s['p99']:.1f} | {statuses or '-'} | {s['failed']} "
            f"| {100 * s['error_rate']:.2f} % |"
        )
    lines += ["", "| rows check (warm-up included) | answers | rows | equal |"]
    lines.append("| --- | ---: | ---: | --- |")
    for what, answers, stored in row_checks(report):
        equal = "yes" if answers == stored else "**no**"
        lines.append(f"| {what} | {answers:,} | {stored:,} | {equal} |")
    lines += answer_latencies(report, window)
    lines += ["", phase_notes(phase, report)]
    return lines


def answer_latencies(report: dict, window: float) -> list[str]:
    """Latency by answer, for kinds answered in more than one way: a 429
    costs the server far less than a 201, so their mix says little."""
    rows = []
    for kind, (label, _) in KINDS.items():
        latencies = report["kinds"][kind]["latencies_ms"]
        if len(latencies) < 2:
            continue
        for status, values in sorted(latencies.items()):
            values = sorted(values)
            rows.append(
                f"| {label} | {status} | {len(values):,} | {len(values) / window:.1f} "
                f"| {percentile(values, 50):.1f} | {percentile(values, 95):.1f} "
                f"| {percentile(values, 99):.1f} |"
            )
    if not rows:
        return []
    header = ["", "| request | answer | requests | req/s | p50 ms | p95 ms | p99 ms |"]
    return [*header, "| --- | --- | ---: | ---: | ---: | ---: | ---: |", *rows]


def phase_notes(phase: Phase, report: dict) -> str:
    window, cpu = report["window_seconds"], report["cpu"]
    others = cpu["machine"] - cpu["gunicorn"] - cpu["postgres"] - cpu["redis"]
    others -= report["cpu_seconds"]
    wrong = {k: v["wrong_digit"] for k, v in report["kinds"].items() if v["wrong_digit"]}
    notes = [
        f"{window:.1f} s measured after {report['warmup']:g} s of warm-up; "
        f"{report['connections']:,} connections opened",
        "CPU % of a core: gunicorn {:.0f} / postgres {:.0f} / redis {:.0f} / load generator "
        "{:.0f} / others {:.0f}".format(
            *(100 * x / window for x in (cpu["gunicorn"], cpu["postgres"], cpu["redis"])),
            100 * report["cpu_seconds"] / window,
            100 * max(0.0, others) / window,
        ),
        f"answers with the wrong digit: {wrong or 'none'}",
        f"server log `{report['server_log']['path']}`: {report['server_log']['error_lines']} "
        f"error lines, {report['server_log']['tracebacks']} tracebacks",
    ]
    if phase.loop == "open":
        notes.append(
            f"sends more than 10 ms behind schedule: {report['late_sends']} "
            f"(largest lag {report['max_lag_ms']:.1f} ms)"
        )
    return "; ".join(notes) + "."


def markdown(args: argparse.Namespace, phases: list[Phase], reports: list[dict], meta: dict) -> str:
    procfile = " (as the Procfile)" if (args.workers, args.threads) == (2, 2) else ""
    lines = [
        "## Mixed load: visitors on the drawing page",
        "",
        "```sh",
        meta["command"],
        "```",
        "",
        f"{meta['started']}, code {meta['commit']}; {meta['machine']}; load average "
        f"{meta['load_start']:.2f} at the start, {meta['load_end']:.2f} at the end.",
        f"gunicorn {args.workers} x {args.threads} gthread{procfile}, DEBUG off, "
        "PostgreSQL + Redis, the bundled model active, the load generator "
        "(bench/mixgen.py) a process of its own. A visit: `GET /`, then for each of "
        f"{args.digits} digit(s) drawn {args.previews} previews and 1 stored prediction, "
        f"feedback on a share {args.feedback_share:g} of the stored ones; "
        f"{visitor_addresses(args)}. Latency: from the "
        "scheduled send (open loop) or the send (closed loop) to the last byte of the answer.",
        "",
    ]
    for phase, report in zip(phases, reports, strict=True):
        lines += [*phase_markdown(phase, args, report), ""]
    found = meta["failures"]
    lines.append(
        "**Result: pass**: no 5xx (503 allowed past saturation), no other unexpected "
        "status, no connection error, rows = answers."
        if not found
        else "**Result: FAIL**:\n" + "\n".join(f"- {x}" for x in found)
    )
    return "\n".join(lines) + "\n"


def visitor_addresses(args: argparse.Namespace) -> str:
    if args.addresses == 1:
        return "all visitors from 127.0.0.1 (address-keyed throttles count them as one)"
    return f"visitors spread over 127.0.0.1 .. 127.0.0.{args.addresses}"


def machine_note() -> str:
    return f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"


def commit() -> str:
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


# --- Main ----------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--phases",
        nargs="+",
        default=["sustainable", "saturation"],
        choices=["sustainable", "saturation"],
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measured, per phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--rate", type=float, default=60.0, help="sustainable: requests/s")
    parser.add_argument(
        "--open-clients",
        type=int,
        default=32,
        help="sustainable: visitor threads (enough to keep the schedule)",
    )
    parser.add_argument("--clients", type=int, default=64, help="saturation: visitors")
    parser.add_argument("--digits", type=int, default=1, help="digits drawn per visit")
    parser.add_argument("--previews", type=int, default=3, help="previews per digit")
    parser.add_argument(
        "--feedback-share",
        type=float,
        default=0.5,
        help="share of stored predictions given feedback",
    )
    parser.add_argument(
        "--addresses",
        type=int,
        default=1,
        choices=range(1, 255),
        metavar="N",
        help="visitors spread over 127.0.0.1 .. 127.0.0.N",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn --workers (Procfile: 2)")
    parser.add_argument("--threads", type=int, default=2, help="gunicorn --threads (Procfile: 2)")
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/mnistsite_bench_mix",
        help="PostgreSQL database to DROP and recreate",
    )
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/14",
        help="cache, throttle counters and broker (flushed)",
    )
    parser.add_argument("--out", default=str(ROOT / "var" / "bench"), help="report folder")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    return parser.parse_args()


def stop_on_term(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so that the finally clauses stop gunicorn


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, stop_on_term)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    var_dir = Path(tempfile.mkdtemp(prefix="bench-mix-"))
    try:
        return run(args, var_dir)
    finally:
        if not args.keep:
            shutil.rmtree(var_dir, ignore_errors=True)


def run(args: argparse.Namespace, var_dir: Path) -> int:
    meta = {
        "command": ".venv/bin/python -m bench.load_mix " + " ".join(sys.argv[1:]),
        "commit": commit(),
        "machine": machine_note(),
        "started": time.strftime("%Y-%m-%d %H:%M"),
        "load_start": os.getloadavg()[0],
    }
    env = base_env(args, var_dir)
    prepare_site(args, env)
    (var_dir / "bodies.json").write_text(json.dumps(request_bodies()))
    phases = [
        phase
        for phase in (
            Phase("sustainable", "open", args.open_clients, production_throttles=False),
            Phase("saturation", "closed", args.clients, production_throttles=True),
        )
        if phase.name in args.phases
    ]
    reports = []
    for phase in phases:
        print(f"{phase.name}: gunicorn, then {args.warmup:g} + {args.seconds:g} s", flush=True)
        reports.append(run_phase(phase, env, args, var_dir) | {"warmup": args.warmup})
    meta["load_end"] = os.getloadavg()[0]
    meta["failures"] = [x for p, r in zip(phases, reports, strict=True) for x in failures(p, r)]
    text = markdown(args, phases, reports, meta)
    print("\n" + text)
    out = Path(args.out)
    (out / "load_mix.md").write_text(text)
    raw = {
        "meta": meta,
        "args": vars(args),
        "phases": {p.name: r for p, r in zip(phases, reports, strict=True)},
    }
    (out / "load_mix.json").write_text(json.dumps(raw, indent=1))
    return 1 if meta["failures"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted; gunicorn stopped")
