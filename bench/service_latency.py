"""The scoring API under load: latency percentiles and throughput, next to a naive baseline.

Trains the default LightGBM lead model (bagged fold models) on demo leads, starts the real
server (`leadscore serve`, one uvicorn worker, SQLite store) and, for comparison, a naive
FastAPI endpoint that builds a one-row DataFrame and calls the scikit-learn pipeline's
``predict_proba`` — each as its own process — then drives both from this process:

* single leads at a steady 200 requests/s (latency p50 / p95 / p99, errors), with reasons,
  while the model is reloaded three times;
* as many single leads as four concurrent clients get through (throughput);
* batches of 1,000 leads.

The load generator is light, so that the numbers are the server's: one asyncio loop
speaking HTTP/1.1 over keep-alive connections (requests prepared beforehand, a new
connection only when every open one is busy), with a timer thread that releases each
request at its due time (µs precision; the loop's own timers round to milliseconds).
Latency counts from the due time, so a late start or queueing shows; the generator's own
lateness is printed next to it. Both servers get the same generator (``bench/soak.py``
drives its mixed traffic with it too).

``--client sequential`` measures instead what the issue-19 target is stated in: a plain
sequential keep-alive client (Python's ``http.client``, one connection, bodies JSON-encoded
beforehand, one request at a time, the round trip timed with ``perf_counter``, the
client's garbage collector off while it measures) sending ``POST /v1/score`` — 70 % new
leads, 30 % leads sent before — after a warm-up, and ``GET /healthz`` the same way for
reference; it prints p50 / p90 / p99 / max and the target (p50 ≤ 1.5 ms, p99 ≤ 5 ms).
The naive server is not started in that mode.

Run: ``.venv/bin/python bench/service_latency.py [--family lightgbm|logreg_l2] [--reasons 3]``;
the target's figure: ``… --client sequential --family logreg_l2 --reasons 3``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import numpy as np

os.environ.setdefault("LEADSCORE_TRACKING", "false")  # a benchmark, not an experiment

# the shared set-up (a sibling module: bench/ is on sys.path); ``bodies`` is imported from
# here by bench/service_overhead.py too
from _serving import Served, bodies, demo_server, free_port, new_and_repeat, swap_model, wait_ready

NAIVE_APP = """
import sys, joblib, pandas as pd
from fastapi import FastAPI
pipeline = joblib.load(sys.argv[1])
app = FastAPI()

@app.post("/score")
def score(lead: dict) -> dict:
    frame = pd.DataFrame([lead["attributes"]])
    frame["created_at"] = pd.to_datetime(frame["created_at"]).dt.tz_localize(None)
    return {"score": float(pipeline.predict_proba(frame)[0, 1])}

if __name__ == "__main__":
    import uvicorn
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def percentiles(latencies: list[float]) -> str:
    ms = np.array(latencies) * 1000
    return (
        f"p50 {np.percentile(ms, 50):6.2f} ms  p95 {np.percentile(ms, 95):6.2f} ms  "
        f"p99 {np.percentile(ms, 99):6.2f} ms"
    )


def http_post(path: str, body: dict[str, Any], headers: dict[str, str]) -> bytes:
    """A complete HTTP/1.1 request, ready to write to a keep-alive connection."""
    data = json.dumps(body).encode()
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def http_get(path: str, headers: dict[str, str]) -> bytes:
    """A complete HTTP/1.1 GET request, ready to write to a keep-alive connection."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


#: most connections the open-loop generator keeps (like the old 32-thread client)
MAX_CONNECTIONS = 64
#: a connection idle this long is not used again: uvicorn closes keep-alive connections
#: idle for 5 s, and a request written as it does so breaks off (a client artefact)
MAX_IDLE_S = 4.0


class Connection:
    """One keep-alive HTTP/1.1 connection: send a prepared request, read the answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.idle_since = time.perf_counter()

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    @property
    def usable(self) -> bool:
        # the server may close a keep-alive connection that sat idle: not an error
        return (
            not self.reader.at_eof()
            and not self.writer.is_closing()
            and time.perf_counter() - self.idle_since < MAX_IDLE_S
        )

    async def request(self, data: bytes) -> int:
        """The status of the answer to ``data`` (its body is read and dropped)."""
        self.writer.write(data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        self.idle_since = time.perf_counter()
        return int(head.split(b" ", 2)[1])

    def close(self) -> None:
        self.writer.close()


class Caller:
    """One back-to-back client: its keep-alive connection, opened again when the server
    closed it (a server does after an error answer) or an answer broke off (status 599)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection: Connection | None = None

    async def ready(self) -> None:
        """Have an open connection (outside a timed request)."""
        if self.connection is not None and not self.connection.usable:
            self.connection.close()
            self.connection = None
        if self.connection is None:
            self.connection = await Connection.open(self.port)

    async def send(self, data: bytes) -> int:
        await self.ready()
        assert self.connection is not None
        try:
            return await self.connection.request(data)
        except (OSError, asyncio.IncompleteReadError):
            self.connection.close()
            self.connection = None
            return 599

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


def open_loop(
    port: int,
    request_for: Callable[[int], bytes],
    rate: float,
    total: int,
    answered: Callable[[int, float, int, float, float], None],
) -> list[float]:
    """Open loop: request ``i`` (``request_for(i)``, built by the timer thread ahead of
    its time) is released at its due time, one every 1/rate s whatever the answers, over
    a pool of keep-alive connections (a new one only when every open one is busy, at most
    ``MAX_CONNECTIONS``). ``answered(i, due, status, latency, late)`` is called on the
    loop's thread as each answer arrives; the latency counts from the moment the request
    was due, so queueing shows (status 599: the connection broke); ``late`` is how late
    the generator started it (a client short of CPU shows there). Returns every
    ``late``."""
    late: list[float] = []

    async def run() -> None:
        loop = asyncio.get_running_loop()
        idle: list[Connection] = []
        slots = asyncio.Semaphore(MAX_CONNECTIONS)
        pending: set[asyncio.Task[None]] = set()
        finished = asyncio.Event()
        done = 0

        async def one(i: int, data: bytes, due: float) -> None:
            nonlocal done
            started = time.perf_counter() - due
            late.append(started)
            connection = None
            async with slots:  # a saturated server: requests wait here, and it shows
                try:
                    while idle and connection is None:
                        candidate = idle.pop()
                        connection = candidate if candidate.usable else candidate.close()
                    connection = connection or await Connection.open(port)
                    status = await connection.request(data)
                    idle.append(connection)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    status = 599
                    if connection is not None:
                        connection.close()
            answered(i, due, status, time.perf_counter() - due, started)
            done += 1
            if done == total:
                finished.set()

        def launch(i: int, data: bytes, due: float) -> None:
            task = loop.create_task(one(i, data, due))
            pending.add(task)
            task.add_done_callback(pending.discard)

        def clock() -> None:
            # time.sleep is precise to microseconds; asyncio's timers round to milliseconds
            start = time.perf_counter() + 0.05
            for i in range(total):
                due = start + i / rate
                data = request_for(i)
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                loop.call_soon_threadsafe(launch, i, data, due)

        if total:
            threading.Thread(target=clock, daemon=True).start()
            await finished.wait()
        for connection in idle:
            connection.close()

    asyncio.run(run())
    return late


def steady_rate(
    port: int,
    requests: list[bytes],
    rate: float,
    seconds: float,
    during: Callable[[], None] | None = None,
) -> tuple[list[float], list[float], int, int]:
    """:func:`open_loop` over ``requests`` in turn for ``seconds`` (``during`` called in
    a thread half-way). Returns the latencies, the generator's lateness in starting
    requests, the errors (any status but 200) and the number of requests."""
    latencies: list[float] = []
    errors = 0
    total = int(rate * seconds)

    def answered(i: int, due: float, status: int, latency: float, late: float) -> None:
        nonlocal errors
        latencies.append(latency)
        errors += status != 200

    if during is not None:
        threading.Timer(seconds / 2, during).start()
    late = open_loop(port, lambda i: requests[i % len(requests)], rate, total, answered)
    return latencies, late, errors, total


def one_at_a_time(port: int, requests: list[bytes], count: int) -> tuple[list[float], int]:
    """Latencies of ``count`` requests sent back to back by one caller (what one lead
    costs when nothing queues in front of it), and the number of errors."""

    async def run() -> tuple[list[float], int]:
        caller = Caller(port)
        out, errors = [], 0
        for i in range(count):
            await caller.ready()
            started = time.perf_counter()
            status = await caller.send(requests[i % len(requests)])
            out.append(time.perf_counter() - started)
            errors += status != 200
        caller.close()
        return out, errors

    return asyncio.run(run())


def closed_loop(port: int, requests: list[bytes], clients: int, seconds: float) -> float:
    """Successful answers per second that ``clients`` back-to-back callers get through.

    An error answer is not counted; a connection the server closed after one is opened
    again (the naive endpoint answers 500 for a lead with a missing number, and a
    logistic regression cannot take one)."""

    async def run() -> int:
        stop = time.perf_counter() + seconds

        async def client(k: int) -> int:
            caller = Caller(port)
            done, i = 0, k
            while time.perf_counter() < stop:
                status = await caller.send(requests[i % len(requests)])
                done, i = done + (status == 200), i + clients
            caller.close()
            return done

        return sum(await asyncio.gather(*(client(k) for k in range(clients))))

    return asyncio.run(run()) / seconds


#: the issue-19 target for one lead, sequential client (p50, p99; seconds)
TARGET_P50, TARGET_P99 = 1.5e-3, 5e-3


def sequential(
    port: int, requests: Sequence[tuple[str, str, bytes | None]], headers: dict[str, str]
) -> tuple[list[float], Counter[int]]:
    """A plain sequential keep-alive client: one ``http.client`` connection, requests
    ``(method, path, body)`` (bodies encoded beforehand) sent one at a time, each round
    trip — request written, answer read to its end — timed with ``perf_counter``. The
    client's garbage collector is off meanwhile (its pauses are not the server's).
    Returns the round trips and the statuses."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.connect()  # TCP_NODELAY set by http.client; one write per request
    times: list[float] = []
    statuses: Counter[int] = Counter()
    post_headers = {**headers, "Content-Type": "application/json"}
    gc.collect()
    gc.disable()
    try:
        for method, path, body in requests:
            started = time.perf_counter()
            connection.request(method, path, body, post_headers if body else headers)
            answer = connection.getresponse()
            answer.read()
            times.append(time.perf_counter() - started)
            statuses[answer.status] += 1
    finally:
        gc.enable()
        connection.close()
    return times, statuses


def quantiles(times: list[float]) -> str:
    ms = np.array(times) * 1000
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return f"p50 {p50:5.2f}  p90 {p90:5.2f}  p99 {p99:5.2f}  max {ms.max():6.2f} ms"


def run_sequential(served: Served, args: argparse.Namespace) -> None:
    """The issue-19 figure: ``/healthz`` alone, then ``POST /v1/score`` (70 % new
    leads, 30 % repeats), each warmed up first, one request at a time."""
    warmup, count = args.warmup, args.requests
    leads = bodies(warmup + count, seed=9, prefix="seq")
    sent = new_and_repeat(leads, warmup + count, repeats=args.repeat_share, seed=2)
    scores = [("POST", "/v1/score", json.dumps(b).encode()) for b in sent]
    health = [("GET", "/healthz", None)] * (warmup + count)
    new = len({b["lead_id"] for b in sent[warmup:]} - {b["lead_id"] for b in sent[:warmup]})
    print(
        f"{args.family}, {args.reasons} reasons each way, SQLite store; one http.client "
        f"keep-alive connection, one request at a time; {warmup:,} warm-up + {count:,} "
        f"measured each; scores: {new:,} new leads, {count - new:,} repeats; "
        f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    port, headers = served.port, served.headers
    sequential(port, health[:warmup], headers)
    health_times, health_status = sequential(port, health[warmup:], headers)
    sequential(port, scores[:warmup], headers)
    score_times, score_status = sequential(port, scores[warmup:], headers)
    print(f"  GET /healthz      {quantiles(health_times)}  statuses {dict(health_status)}")
    print(f"  POST /v1/score    {quantiles(score_times)}  statuses {dict(score_status)}")
    p50, p99 = np.percentile(score_times, [50, 99])
    verdict = {True: "pass", False: "FAIL"}
    print(
        f"  target p50 ≤ {TARGET_P50 * 1e3:.1f} ms: {verdict[bool(p50 <= TARGET_P50)]} "
        f"({p50 * 1e3:.2f});  p99 ≤ {TARGET_P99 * 1e3:.0f} ms: "
        f"{verdict[bool(p99 <= TARGET_P99)]} ({p99 * 1e3:.2f});  "
        f"load after {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


def run_all(served: Served, args: argparse.Namespace) -> None:
    """Against the naive baseline: one at a time, steady rate with reloads, 4 clients,
    batches."""
    import joblib

    work, port, headers, root = served.work, served.port, served.headers, served.root
    members = getattr(served.model.pipeline_, "members_", [served.model.pipeline_])
    estimator = members[0].named_steps["model"]
    trees = getattr(estimator, "n_estimators", None)
    print(
        f"{args.family}: {len(members)} bagged fold models" + (f" × {trees} trees" if trees else "")
    )
    joblib.dump(members[0], work / "pipeline.joblib")
    (work / "naive.py").write_text(NAIVE_APP)
    naive_port = free_port()
    naive = subprocess.Popen(
        [sys.executable, str(work / "naive.py"), str(work / "pipeline.joblib"), str(naive_port)],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        naive_root = f"http://127.0.0.1:{naive_port}"
        wait_ready(f"{naive_root}/docs", naive)
        payloads = bodies(2000)
        ours = [http_post("/v1/score", b, headers) for b in payloads]
        baseline = [http_post("/score", b, {}) for b in payloads]

        # warm up both
        closed_loop(port, ours[:200], 1, 2.0)
        closed_loop(naive_port, baseline[:200], 1, 2.0)

        print(f"\none lead at a time, 2,000 in a row (score + {args.reasons} reasons each way "
              "+ stored in history):")  # fmt: skip
        lat, errors = one_at_a_time(port, ours, 2000)
        print(f"  leadscore  {percentiles(lat)}  errors {errors}/2000")
        lat_b, errors_b = one_at_a_time(naive_port, baseline, 2000)
        print(f"  naive      {percentiles(lat_b)}  errors {errors_b}/2000  (score only)")

        reloads: list[str] = []

        def reload_thrice() -> None:
            # two saved models behind one served path, a symlink: each reload swaps in
            # the other one, so every reload loads and compiles
            with httpx.Client(timeout=60) as client:
                for _ in range(args.reloads):
                    swap_model(work)
                    answer = client.post(f"{root}/v1/models/reload", headers=headers)
                    reloads.append(f"{answer.status_code} {answer.json().get('version')}")

        print(f"\nsingle leads at {args.rate:.0f} requests/s for {args.seconds:.0f} s "
              f"(score + {args.reasons} reasons each way + stored in history):")  # fmt: skip
        lat, late, errors, total = steady_rate(port, ours, args.rate, args.seconds, reload_thrice)
        print(f"  leadscore  {percentiles(lat)}  errors {errors}/{total}  "
              f"model reloads during the run: {reloads}")  # fmt: skip
        print(f"             (generator late by p50 {np.median(late) * 1e3:.2f} ms, "
              f"p99 {np.percentile(late, 99) * 1e3:.2f} ms; counted in the latencies)")  # fmt: skip
        lat_b, _, errors_b, total_b = steady_rate(naive_port, baseline, args.rate, args.seconds)
        print(f"  naive      {percentiles(lat_b)}  errors {errors_b}/{total_b}  (score only)")

        print("\nthroughput, 4 concurrent clients, 5 s:")
        ours_rps = closed_loop(port, ours, 4, 5.0)
        base_rps = closed_loop(naive_port, baseline, 4, 5.0)
        print(f"  leadscore  {ours_rps:7.0f} leads/s")
        print(f"  naive      {base_rps:7.0f} leads/s   ratio {ours_rps / base_rps:.1f}×")

        print("\nbatches of 1,000 leads (POST /v1/score/batch, stored), 10 in a row:")
        batch = {"leads": payloads[:1000]}
        times = []
        with httpx.Client(timeout=120) as client:
            for _ in range(10):
                started = time.perf_counter()
                answer = client.post(f"{root}/v1/score/batch", json=batch, headers=headers)
                times.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text[:300]
        median = statistics.median(times)
        print(f"  median {median * 1000:.0f} ms per batch = {1000 / median:,.0f} leads/s")
    finally:
        naive.terminate()
        naive.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--family", default="lightgbm")
    parser.add_argument(
        "--client",
        choices=["all", "sequential"],
        default="all",
        help="all: the open-loop generator against the naive baseline; sequential: one "
        "http.client connection, one request at a time (the issue-19 target).",
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--reasons", type=int, default=3, help="Reasons each way per score.")
    parser.add_argument("--reloads", type=int, default=3, help="Model swaps during the run.")
    parser.add_argument("--warmup", type=int, default=300, help="sequential: warm-up requests.")
    parser.add_argument("--requests", type=int, default=3000, help="sequential: measured.")
    parser.add_argument(
        "--repeat-share", type=float, default=0.3, help="sequential: leads sent again."
    )
    args = parser.parse_args()

    with demo_server(args.family, args.reasons) as served:
        if args.client == "sequential":
            run_sequential(served, args)
        else:
            run_all(served, args)


if __name__ == "__main__":
    main()
