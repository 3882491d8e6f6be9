"""The scoring API under load: latency percentiles and throughput, next to a naive baseline.

Trains the default LightGBM lead model (bagged fold models) on demo leads, starts the real
server (`leadscore serve`, one uvicorn worker, SQLite store) and, for comparison, a naive
FastAPI endpoint that builds a one-row DataFrame and calls the scikit-learn pipeline's
``predict_proba`` — each as its own process — then drives both from this process:

* single leads at a steady 200 requests/s (latency p50 / p95 / p99, errors), with reasons,
  while the model is reloaded three times;
* as many single leads as four concurrent clients get through (throughput);
* batches of 1,000 leads.

Run: ``.venv/bin/python bench/service_latency.py [--family lightgbm|logreg_l2] [--reasons 3]``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
    from leadscore.data.demo import generate_leads

    table = generate_leads(n, seed=seed, labelled=False).table
    out = []
    for row in table.to_dict("records"):
        lead_id = row.pop("lead_id")
        attributes = {
            k: (v.isoformat() + "Z" if isinstance(v, pd.Timestamp) else
                None if isinstance(v, float) and np.isnan(v) else v)
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


def steady_rate(
    send: Callable[[httpx.Client, dict[str, Any]], int],
    payloads: list[dict[str, Any]],
    rate: float,
    seconds: float,
    during: Callable[[], None] | None = None,
) -> tuple[list[float], int, int]:
    """Open loop: a request every 1/rate s whatever the answers; latency counts from the
    moment a request was due, so queueing shows."""
    local = threading.local()
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def one(i: int, due: float) -> None:
        nonlocal errors
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(timeout=10)
        try:
            status = send(client, payloads[i % len(payloads)])
        except httpx.HTTPError:
            status = 599
        elapsed = time.perf_counter() - due
        with lock:
            latencies.append(elapsed)
            if status != 200:
                errors += 1

    total = int(rate * seconds)
    start = time.perf_counter() + 0.05
    with ThreadPoolExecutor(32) as pool:
        if during is not None:
            threading.Timer(seconds / 2, during).start()
        for i in range(total):
            due = start + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            pool.submit(one, i, due)
    return latencies, errors, total


def closed_loop(
    send: Callable[[httpx.Client, dict[str, Any]], int],
    payloads: list[dict[str, Any]],
    clients: int,
    seconds: float,
) -> float:
    """Requests per second that ``clients`` back-to-back callers get through."""
    done = [0] * clients
    stop = time.perf_counter() + seconds

    def worker(k: int) -> None:
        with httpx.Client(timeout=10) as client:
            i = k
            while time.perf_counter() < stop:
                send(client, payloads[i % len(payloads)])
                done[k] += 1
                i += clients

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--family", default="lightgbm")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--reasons", type=int, default=3, help="Reasons each way per score.")
    args = parser.parse_args()

    import joblib

    from leadscore.data.demo import generate_leads
    from leadscore.modeling.model import LeadModel
    from leadscore.store import Store

    work = Path(tempfile.mkdtemp(prefix="leadscore-bench-"))
    table = generate_leads(5000, seed=5).table
    model = LeadModel(args.family).fit(
        table.drop(columns=["lead_id", "converted", "sales_status"]), table["converted"]
    )
    model.save(work / "model")
    members = getattr(model.pipeline_, "members_", [model.pipeline_])
    estimator = members[0].named_steps["model"]
    trees = getattr(estimator, "n_estimators", None)
    print(
        f"{args.family}: {len(members)} bagged fold models" + (f" × {trees} trees" if trees else "")
    )
    joblib.dump(members[0], work / "pipeline.joblib")
    (work / "naive.py").write_text(NAIVE_APP)

    url = f"sqlite:///{work / 'scores.db'}"
    key = Store(url).create_key("bench", ["admin"])[0]
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

        def ours(client: httpx.Client, body: dict[str, Any]) -> int:
            return client.post(f"{root}/v1/score", json=body, headers=headers).status_code

        def baseline(client: httpx.Client, body: dict[str, Any]) -> int:
            return client.post(f"{naive_root}/score", json=body).status_code

        for send in (ours, baseline):  # warm up both
            with httpx.Client() as client:
                for body in payloads[:200]:
                    send(client, body)

        reloads: list[int] = []

        def reload_thrice() -> None:
            with httpx.Client(timeout=60) as client:
                for _ in range(3):
                    reloads.append(
                        client.post(f"{root}/v1/models/reload", headers=headers).status_code
                    )

        print(f"\nsingle leads at {args.rate:.0f} requests/s for {args.seconds:.0f} s "
              f"(score + {args.reasons} reasons each way + stored in history):")  # fmt: skip
        lat, errors, total = steady_rate(ours, payloads, args.rate, args.seconds, reload_thrice)
        print(f"  leadscore  {percentiles(lat)}  errors {errors}/{total}  "
              f"model reloads during the run: {reloads}")  # fmt: skip
        lat_b, errors_b, total_b = steady_rate(baseline, payloads, args.rate, args.seconds)
        print(f"  naive      {percentiles(lat_b)}  errors {errors_b}/{total_b}  (score only)")

        print("\nthroughput, 4 concurrent clients, 5 s:")
        ours_rps = closed_loop(ours, payloads, 4, 5.0)
        base_rps = closed_loop(baseline, payloads, 4, 5.0)
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
