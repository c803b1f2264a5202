"""Simulated visitors of the drawing page, a load generator run as its own process.

    .venv/bin/python -m bench.mixgen --port 8000 --bodies bodies.json \
        --loop open --rate 60 --clients 32 --seconds 20 --warmup 2
    .venv/bin/python -m bench.mixgen --port 8000 --bodies bodies.json \
        --loop closed --clients 64 --seconds 20 --warmup 2

Each client thread plays one visitor after another. A visit is what the page
does: `GET /` (a new session and the CSRF cookie), then for each digit drawn
`--previews` live guesses (`POST /api/v1/predictions/?preview=true&include=preprocessed`),
one stored prediction (`?include=preprocessed`, a 201 with the id) and, for
a share `--feedback-share` of the stored ones, `POST .../{id}/feedback/` with
the true digit. Every POST carries the visitor's cookies, the `X-CSRFToken`
header from its csrftoken cookie and the `Origin` a browser sends. A visit
has its own cookie jar and keep-alive connection (`http.client`), so the
next visitor starts without cookies on a new connection.

`--loop open`: requests leave at the times of a Poisson process at `--rate`
per second, whoever is free sends the next one, and latency counts from the
scheduled time, so a slow server cannot slow the arrivals down and hide its
queue (coordinated omission); `--clients` only has to be large enough that a
free visitor is always there (late sends are reported). `--loop closed`:
each visitor sends its next request as soon as the last is answered.

`--addresses N` spreads the visitors over loopback addresses 127.0.0.1 ..
127.0.0.N, so that address-keyed throttles count each group on its own.

Standard library only. Protocol on stdout, for the script that drives it:
`measuring` when the measured window starts, `done` when the last measured
request finished, then one line of JSON: per kind of request, the statuses
(measured and warm-up apart), connection errors, latencies in ms by status
and answers with the wrong digit; connections opened, late sends and this
process's CPU seconds during the window.
"""

import argparse
import http.client
import http.cookies
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.loadgen import NoDelayConnection, run_measured

KINDS = ("page", "preview", "stored", "feedback")
PREDICT_PATH = "/api/v1/predictions/"
LATE_MS = 10.0  # an open-loop send this far behind its scheduled time counts as late


class TimeUp(Exception):
    """The window is over: no more requests from this visitor."""


@dataclass
class KindTally:
    statuses: Counter = field(default_factory=Counter)
    warmup_statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # exceptions, by type
    warmup_errors: Counter = field(default_factory=Counter)
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)  # by status
    wrong_digit: int = 0


@dataclass
class ClientTally:
    kinds: dict[str, KindTally] = field(default_factory=lambda: {k: KindTally() for k in KINDS})
    connections: int = 0
    late_sends: int = 0
    max_lag_ms: float = 0.0
    last_done: float = 0.0


class PoissonPacer:
    """The open loop's schedule: each call hands out the next send time of a
    Poisson process, to whichever visitor asks first."""

    def __init__(self, *, rate: float, start: float, seed: int) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - a schedule, not a secret
        self._rate, self._next = rate, start
        self._lock = threading.Lock()

    def next_due(self) -> float:
        with self._lock:
            self._next += self._rng.expovariate(self._rate)
            return self._next


@dataclass
class Window:
    measure_from: float
    stop_at: float
    pacer: PoissonPacer | None  # None: closed loop


class Visit:
    """One visitor's browser: a cookie jar and a keep-alive connection."""

    def __init__(self, *, port: int, source: str, tally: ClientTally, window: Window) -> None:
        self.port, self.tally, self.window = port, tally, window
        self.connection = NoDelayConnection(
            "127.0.0.1", port, timeout=60, source_address=(source, 0)
        )
        self.cookies: dict[str, str] = {}

    def close(self) -> None:
        self.connection.close()

    def send(self, kind: str, method: str, path: str, body: bytes | None = None):
        """(status, parsed JSON or None); TimeUp when the window is over;
        connection errors are counted and raised (the visit is abandoned)."""
        started = self._start_time()
        tally = self.tally.kinds[kind]
        measured = started >= self.window.measure_from
        try:
            if self.connection.sock is None:
                self.tally.connections += 1
            self.connection.request(method, path, body=body, headers=self._headers(body))
            response = self.connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.connection.close()
            (tally.errors if measured else tally.warmup_errors)[type(exc).__name__] += 1
            raise
        finished = time.perf_counter()
        self._remember_cookies(response)
        status = str(response.status)
        if measured:
            tally.statuses[status] += 1
            tally.latencies_ms.setdefault(status, []).append((finished - started) * 1000.0)
            self.tally.last_done = finished
        else:
            tally.warmup_statuses[status] += 1
        is_json = response.getheader("Content-Type", "").startswith("application/json")
        return response.status, json.loads(data) if is_json and data else None

    def _start_time(self) -> float:
        """When this request counts as sent: now (closed loop), or its
        scheduled time (open loop), after waiting for it."""
        window = self.window
        if window.pacer is None:
            now = time.perf_counter()
            if now >= window.stop_at:
                raise TimeUp
            return now
        due = window.pacer.next_due()
        if due >= window.stop_at:
            raise TimeUp
        time.sleep(max(0.0, due - time.perf_counter()))
        lag_ms = (time.perf_counter() - due) * 1000.0
        if due >= window.measure_from:
            self.tally.late_sends += lag_ms > LATE_MS
            self.tally.max_lag_ms = max(self.tally.max_lag_ms, lag_ms)
        return due

    def _headers(self, body: bytes | None) -> dict[str, str]:
        headers = {"Accept": "text/html" if body is None else "application/json"}
        if self.cookies:
            # Sent whether or not the cookie is marked Secure: browsers treat
            # http://127.0.0.1 as a secure context and do the same.
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/json"
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
            headers["Origin"] = f"http://127.0.0.1:{self.port}"
        return headers

    def _remember_cookies(self, response: http.client.HTTPResponse) -> None:
        for header in response.headers.get_all("Set-Cookie") or []:
            jar = http.cookies.SimpleCookie()
            jar.load(header)
            self.cookies.update((name, morsel.value) for name, morsel in jar.items())


def play_visit(visit: Visit, plan: argparse.Namespace, drawings, rng: random.Random) -> None:
    """GET /, then per digit: previews, a stored prediction, maybe feedback."""
    status, _ = visit.send("page", "GET", "/")
    if status != 200:
        return  # no session, no CSRF cookie: this visitor leaves
    for _ in range(plan.digits):
        body, label = rng.choice(drawings)
        for _ in range(plan.previews):
            status, answer = visit.send(
                "preview", "POST", PREDICT_PATH + "?preview=true&include=preprocessed", body
            )
            count_wrong_digit(visit, "preview", status, 200, answer, label)
        status, answer = visit.send("stored", "POST", PREDICT_PATH + "?include=preprocessed", body)
        count_wrong_digit(visit, "stored", status, 201, answer, label)
        if status == 201 and answer and rng.random() < plan.feedback_share:
            feedback = json.dumps({"label": label}).encode()
            visit.send("feedback", "POST", f"{PREDICT_PATH}{answer['id']}/feedback/", feedback)


def count_wrong_digit(visit: Visit, kind: str, status: int, ok: int, answer, label: int) -> None:
    if status == ok and answer and answer.get("digit") != label:
        visit.tally.kinds[kind].wrong_digit += 1


def run_client(
    *, index: int, args: argparse.Namespace, drawings, window: Window, tally: ClientTally
) -> None:
    rng = random.Random(args.seed * 1000 + index)  # noqa: S311 - which digit, not a secret
    source = f"127.0.0.{1 + index % args.addresses}"
    while True:
        visit = Visit(port=args.port, source=source, tally=tally, window=window)
        try:
            play_visit(visit, args, drawings, rng)
        except TimeUp:
            return
        except (OSError, http.client.HTTPException):
            pass  # counted; the next visitor starts afresh
        finally:
            visit.close()


def merged(tallies: list[ClientTally]) -> dict:
    kinds = {}
    for kind in KINDS:
        parts = [t.kinds[kind] for t in tallies]
        latencies: dict[str, list[float]] = {}
        for part in parts:
            for status, values in part.latencies_ms.items():
                latencies.setdefault(status, []).extend(values)
        kinds[kind] = {
            name: dict(sum((getattr(p, name) for p in parts), Counter()))
            for name in ("statuses", "warmup_statuses", "errors", "warmup_errors")
        }
        kinds[kind]["latencies_ms"] = latencies
        kinds[kind]["wrong_digit"] = sum(p.wrong_digit for p in parts)
    return {
        "kinds": kinds,
        "connections": sum(t.connections for t in tallies),
        "late_sends": sum(t.late_sends for t in tallies),
        "max_lag_ms": max((t.max_lag_ms for t in tallies), default=0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bodies", required=True, help="JSON file: [{body, label}, ...]")
    parser.add_argument("--loop", choices=["open", "closed"], required=True)
    parser.add_argument("--rate", type=float, default=60.0, help="open loop: requests/s")
    parser.add_argument("--clients", type=int, default=32, help="visitor threads")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--digits", type=int, default=1, help="digits drawn per visit")
    parser.add_argument("--previews", type=int, default=3, help="live guesses per digit")
    parser.add_argument("--feedback-share", type=float, default=0.5)
    parser.add_argument("--addresses", type=int, default=1, choices=range(1, 255))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with open(args.bodies) as stream:
        drawings = [(item["body"].encode(), item["label"]) for item in json.load(stream)]
    start = time.perf_counter()
    window = Window(
        measure_from=start + args.warmup,
        stop_at=start + args.warmup + args.seconds,
        pacer=PoissonPacer(rate=args.rate, start=start, seed=args.seed)
        if args.loop == "open"
        else None,
    )
    tallies = [ClientTally() for _ in range(args.clients)]
    threads = [
        threading.Thread(
            target=run_client,
            kwargs=dict(index=i, args=args, drawings=drawings, window=window, tally=tallies[i]),
            daemon=True,
        )
        for i in range(args.clients)
    ]
    cpu_used = run_measured(threads, window.measure_from)

    report = merged(tallies)
    last_done = max((t.last_done for t in tallies), default=window.stop_at)
    report["window_seconds"] = max(last_done, window.stop_at) - window.measure_from
    report["cpu_seconds"] = cpu_used
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
