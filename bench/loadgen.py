"""A lean closed-loop HTTP load generator, run as its own process.

    .venv/bin/python -m bench.loadgen --url http://127.0.0.1:8000/api/v1/predictions/ \
        --bodies bodies.json --concurrency 4 --seconds 10 --warmup 2

`bodies.json` is a list of `{"body": "<request body>", "label": <expected digit>}`.
N threads each hold one keep-alive connection (`http.client`, reopened when
the server closes it, as gunicorn's sync workers do after every answer) and
POST the bodies round-robin, one request at a time, for the warm-up and then
the measured window. Standard library only, so it costs the server little
CPU: it spends most of its time blocked in socket calls.

Protocol on stdout, for the script that drives it: the line `measuring` when
the measured window starts, `done` when the last measured request finished,
then one line of JSON with the results (statuses of every request including
the warm-up, latencies in ms of the measured ones, this process's CPU seconds
during the window).
"""

import argparse
import http.client
import json
import resource
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit


class NoDelayConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@dataclass
class ClientResult:
    warmup_statuses: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # exceptions, by type
    latencies_ms: list[float] = field(default_factory=list)
    wrong_digit: int = 0
    connections: int = 0
    last_done: float = 0.0


def run_client(
    *,
    index: int,
    url: str,
    bodies: list[dict],
    headers: dict[str, str],
    measure_from: float,
    stop_at: float,
    result: ClientResult,
) -> None:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    connection = NoDelayConnection(parts.hostname, parts.port or 80, timeout=60)
    encoded = [(item["body"].encode(), item.get("label")) for item in bodies]
    turn = index  # clients start on different bodies
    while True:
        started = time.perf_counter()
        if started >= stop_at:
            break
        body, label = encoded[turn % len(encoded)]
        turn += 1
        try:
            if connection.sock is None:
                result.connections += 1
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            if started >= measure_from:
                result.errors[type(exc).__name__] += 1
            else:
                result.warmup_statuses[type(exc).__name__] += 1
            continue
        finished = time.perf_counter()
        if started < measure_from:
            result.warmup_statuses[status] += 1
            continue
        result.statuses[status] += 1
        result.latencies_ms.append((finished - started) * 1000.0)
        result.last_done = finished
        if status == 201 and label is not None and json.loads(data).get("digit") != label:
            result.wrong_digit += 1
    connection.close()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_measured(threads: list[threading.Thread], measure_from: float) -> float:
    """Start the clients, announce the measured window on stdout (the protocol
    of the driving script), wait for them; the CPU seconds this process used
    while measuring."""
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, measure_from - time.perf_counter()))
    cpu_at_start = cpu_seconds()
    print("measuring", flush=True)
    for thread in threads:
        thread.join()
    cpu_used = cpu_seconds() - cpu_at_start
    print("done", flush=True)
    return cpu_used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--bodies", required=True, help="JSON file: [{body, label}, ...]")
    parser.add_argument("--content-type", default="application/json")
    parser.add_argument("--header", action="append", default=[], help="'Name: value'")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()

    with open(args.bodies) as stream:
        bodies = json.load(stream)
    headers = {"Content-Type": args.content_type, "Accept": "application/json"}
    for header in args.header:
        name, _, value = header.partition(":")
        headers[name.strip()] = value.strip()

    start = time.perf_counter()
    measure_from = start + args.warmup
    stop_at = measure_from + args.seconds
    results = [ClientResult() for _ in range(args.concurrency)]
    threads = [
        threading.Thread(
            target=run_client,
            kwargs=dict(
                index=i,
                url=args.url,
                bodies=bodies,
                headers=headers,
                measure_from=measure_from,
                stop_at=stop_at,
                result=results[i],
            ),
            daemon=True,
        )
        for i in range(args.concurrency)
    ]
    cpu_used = run_measured(threads, measure_from)

    def total(attribute: str) -> Counter:
        return sum((getattr(r, attribute) for r in results), Counter())

    last_done = max((r.last_done for r in results), default=stop_at)
    window = max(last_done, stop_at) - measure_from
    report = {
        "concurrency": args.concurrency,
        "window_seconds": window,
        "warmup_statuses": {str(k): v for k, v in total("warmup_statuses").items()},
        "statuses": {str(k): v for k, v in total("statuses").items()},
        "errors": dict(total("errors")),
        "latencies_ms": [x for r in results for x in r.latencies_ms],
        "wrong_digit": sum(r.wrong_digit for r in results),
        "connections": sum(r.connections for r in results),
        "cpu_seconds": cpu_used,
    }
    sys.stdout.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
