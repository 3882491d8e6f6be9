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
lateness is printed next to it. Both servers get the same generator.

Run: ``.venv/bin/python bench/service_latency.py [--family lightgbm|logreg_l2] [--reasons 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

os.environ.setdefault("LEADSCORE_TRACKING", "false")  # a benchmark, not an experiment

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"{url} not ready after {timeout:.0f} s")


def bodies(n: int, seed: int = 9) -> list[dict[str, Any]]:
    """Request bodies of ``n`` demo leads, as a CRM would send them (JSON-ready)."""
    from leadscore.demo import generate_leads

    table = generate_leads(n, seed=seed, labelled=False).table
    out = []
    for row in table.to_dict("records"):
        lead_id = row.pop("lead_id")
        attributes = {
            k: (v.isoformat() + "Z" if isinstance(v, pd.Timestamp) else
                None if isinstance(v, float) and np.isnan(v) else
                v.item() if isinstance(v, np.generic) else v)
            for k, v in row.items()
        }  # fmt: skip
        out.append({"lead_id": lead_id, "attributes": attributes})
    return out


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


#: most connections the open-loop generator keeps (like the old 32-thread client)
MAX_CONNECTIONS = 64


class Connection:
    """One keep-alive HTTP/1.1 connection: send a prepared request, read the answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    @property
    def usable(self) -> bool:
        # the server may close a keep-alive connection that sat idle: not an error
        return not self.reader.at_eof() and not self.writer.is_closing()

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


def steady_rate(
    port: int,
    requests: list[bytes],
    rate: float,
    seconds: float,
    during: Callable[[], None] | None = None,
) -> tuple[list[float], list[float], int, int]:
    """Open loop: a request every 1/rate s whatever the answers; latency counts from the
    moment a request was due, so queueing shows. Returns the latencies, the generator's
    lateness in starting requests, the errors and the number of requests."""
    latencies: list[float] = []
    late: list[float] = []
    errors = 0
    total = int(rate * seconds)

    async def run() -> None:
        nonlocal errors
        loop = asyncio.get_running_loop()
        idle: list[Connection] = []
        slots = asyncio.Semaphore(MAX_CONNECTIONS)
        pending: set[asyncio.Task[None]] = set()
        finished = asyncio.Event()
        done = 0

        async def one(i: int, due: float) -> None:
            nonlocal errors, done
            late.append(time.perf_counter() - due)
            connection = None
            async with slots:  # a saturated server: requests wait here, and it shows
                try:
                    while idle and connection is None:
                        candidate = idle.pop()
                        connection = candidate if candidate.usable else candidate.close()
                    connection = connection or await Connection.open(port)
                    status = await connection.request(requests[i % len(requests)])
                    idle.append(connection)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    status = 599
                    if connection is not None:
                        connection.close()
            latencies.append(time.perf_counter() - due)
            if status != 200:
                errors += 1
            done += 1
            if done == total:
                finished.set()

        def launch(i: int, due: float) -> None:
            task = loop.create_task(one(i, due))
            pending.add(task)
            task.add_done_callback(pending.discard)

        def clock() -> None:
            # time.sleep is precise to microseconds; asyncio's timers round to milliseconds
            start = time.perf_counter() + 0.05
            for i in range(total):
                due = start + i / rate
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                loop.call_soon_threadsafe(launch, i, due)

        if during is not None:
            threading.Timer(seconds / 2, during).start()
        threading.Thread(target=clock, daemon=True).start()
        await finished.wait()
        for connection in idle:
            connection.close()

    asyncio.run(run())
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--family", default="lightgbm")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--reasons", type=int, default=3, help="Reasons each way per score.")
    parser.add_argument("--reloads", type=int, default=3, help="Model swaps during the run.")
    args = parser.parse_args()

    import joblib

    from leadscore.demo import generate_leads
    from leadscore.lifecycle.artifacts import save_model
    from leadscore.modeling.model import LeadModel
    from leadscore.store import Store

    work = Path(tempfile.mkdtemp(prefix="leadscore-bench-"))
    table = generate_leads(5000, seed=5).table
    model = LeadModel(args.family).fit(
        table.drop(columns=["lead_id", "converted", "sales_status"]), table["converted"]
    )
    # two saved models (the second as if retrained) behind one served path, a symlink: each
    # reload during the run swaps in the other one, so every reload loads and compiles
    save_model(model, work / "model-a")
    model.metadata_["trained_at"] = "retrained"
    save_model(model, work / "model-b")
    (work / "model").symlink_to(work / "model-a")
    members = getattr(model.pipeline_, "members_", [model.pipeline_])
    estimator = members[0].named_steps["model"]
    trees = getattr(estimator, "n_estimators", None)
    print(
        f"{args.family}: {len(members)} bagged fold models" + (f" × {trees} trees" if trees else "")
    )
    joblib.dump(members[0], work / "pipeline.joblib")
    (work / "naive.py").write_text(NAIVE_APP)

    url = f"sqlite:///{work / 'scores.db'}"
    key = Store(url).keys.create("bench", ["admin"])[0]
    headers = {"Authorization": f"Bearer {key}"}
    port, naive_port = free_port(), free_port()
    env = {
        **os.environ,
        "LEADSCORE_TRACKING": "false",
        "LEADSCORE_SERVICE__REASONS": str(args.reasons),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "leadscore.cli", "serve", str(work / "model"), "--port", str(port),
         "--database", url],
        env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    naive = subprocess.Popen(
        [sys.executable, str(work / "naive.py"), str(work / "pipeline.joblib"), str(naive_port)],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        root, naive_root = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{naive_port}"
        wait_ready(f"{root}/readyz", server)
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
            with httpx.Client(timeout=60) as client:
                for i in range(args.reloads):
                    swap = work / "model.next"
                    swap.symlink_to(work / ("model-b" if i % 2 == 0 else "model-a"))
                    swap.replace(work / "model")
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
        for process in (server, naive):
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
