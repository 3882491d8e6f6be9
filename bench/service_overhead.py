"""What a single-lead ``POST /v1/score`` costs the server besides the model: HTTP, key
check, validation, store write, serialisation.

The served model's scorer is replaced by one that hands back results computed beforehand
(real scores with reasons), so every number here excludes the model and reasons kernel.
Measured on one SQLite store:

* the parts in isolation (``Store.authenticate``, attribute validation, ``add_scores``
  of one lead with its attributes, the response model);
* the whole app in-process: requests through the ASGI interface, one at a time, no
  network (routing, middleware, dependencies, thread pool, store, response);
* the web layer alone: the same, with ``LiveScoring.score_lead`` handing back a result
  made beforehand (no store either): the CPU time (all threads) of one request, which
  moves little with what else the machine runs;
* the real server (uvicorn, as ``leadscore serve`` runs it) in its own process, driven by
  one keep-alive connection: the server process's CPU time per request, read from
  ``/proc``, and the round-trip latency.

Run: ``.venv/bin/python bench/service_overhead.py [--requests 3000] [--model DIR]``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("LEADSCORE_TRACKING", "false")

from leadscore.live import add_scores
from service_latency import bodies as demo_bodies  # a sibling script: bench/ is on sys.path

#: the server process of the end-to-end measurement: the real app with a replayed kernel
SERVER = """
import json, sys
import uvicorn
from bench_stub import stubbed_app
app = stubbed_app(sys.argv[1], sys.argv[2], sys.argv[3])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[4]), log_level="warning")
"""


class Replay:
    """A stand-in for :class:`~leadscore.scoring.realtime.scorer.FastScorer` that returns
    results computed beforehand, in turn (so no model time is counted)."""

    def __init__(self, results: Sequence[Any]) -> None:
        self.results = list(results)
        self.next = 0

    def score_many(self, rows: Sequence[Any], reasons: int = 0) -> list[Any]:
        out = []
        for _ in rows:
            out.append(self.results[self.next % len(self.results)])
            self.next += 1
        return out

    def begin(
        self, rows: Sequence[Any], reasons: int = 0, pool_share: float = 0.5
    ) -> Callable[[], list[Any]]:
        """:meth:`FastScorer.begin`'s two halves: the results now, handed back later."""
        results = self.score_many(rows, reasons)
        return lambda: results


def stubbed_app(model_dir: str, database_url: str, bodies_file: str) -> Any:
    """The real app serving ``model_dir`` with its kernel replaced by a :class:`Replay`."""
    from leadscore.config import ServiceSettings, Settings
    from leadscore.live import ModelSlot
    from leadscore.service import create_app
    from leadscore.service.inputs import attributes_model, check_attributes
    from leadscore.store import Store

    settings = Settings(
        database_url=database_url, tracking=False, service=ServiceSettings(model=model_dir)
    )
    slot = ModelSlot.load(model_dir, settings)
    serving = slot.current
    bodies = json.loads(Path(bodies_file).read_text())
    schema = attributes_model(serving.model.schema_)
    rows = [check_attributes(schema, b["attributes"], ()) for b in bodies[:200]]
    results = serving.scorer.score_many(rows, settings.service.reasons)
    slot._current = dataclasses.replace(serving, scorer=Replay(results))
    return create_app(settings, store=Store(database_url), slot=slot, deliver_webhooks=False)


def per_call(fn: Callable[[int], Any], n: int) -> float:
    """Median of per-call wall times in µs (after a warm-up)."""
    for i in range(min(200, n)):
        fn(i)
    times = []
    for i in range(n):
        started = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def parts(model_dir: str, work: Path, bodies: list[dict[str, Any]], n: int) -> None:
    from leadscore.config import Settings
    from leadscore.live import ModelSlot
    from leadscore.service.inputs import attributes_model, check_attributes
    from leadscore.service.schemas import LeadIn
    from leadscore.service.views import score_out
    from leadscore.store import NewScore, Store

    url = f"sqlite:///{work / 'parts.db'}"
    store = Store(url)
    plaintext = store.keys.create("bench", ["score"])[0]
    slot = ModelSlot.load(model_dir, Settings(database_url=url, tracking=False))
    schema = attributes_model(slot.current.model.schema_)
    checked = [check_attributes(schema, b["attributes"], ()) for b in bodies]
    raw = [json.dumps(b).encode() for b in bodies]

    def write(i: int) -> Any:
        item = NewScore(bodies[i % len(bodies)]["lead_id"], "1", 0.5, 50, "warm", True, [])
        return add_scores(store, [item], attributes={item.lead_id: checked[i % len(checked)]})

    from leadscore.live import LiveScoring

    live = LiveScoring(slot, store)
    rows = checked[:200]
    results = slot.current.scorer.score_many(rows, 3)
    slot._current = dataclasses.replace(slot.current, scorer=Replay(results))

    scored = live.score_lead(bodies[0]["lead_id"], checked[0])
    ids = [b["lead_id"] for b in bodies]
    cases: list[tuple[str, Callable[[int], Any]]] = [
        ("store.authenticate (no cache)", lambda i: store.keys.authenticate(plaintext)),
        ("LeadIn.model_validate_json", lambda i: LeadIn.model_validate_json(raw[i % len(raw)])),
        ("check_attributes", lambda i: check_attributes(schema, checked[i % len(ids)], ())),
        ("store.add_scores (1 lead)", write),
        (
            "live.score_lead (no kernel)",
            lambda i: live.score_lead(ids[i % len(ids)], checked[i % len(ids)]),
        ),
        ("score_out + JSON", lambda i: score_out(scored).model_dump_json()),
    ]
    if hasattr(store.keys, "cached"):  # (so that older versions can be measured too)
        store.keys.authenticate(plaintext, cache_s=5)
        cases.insert(1, ("store.keys.cached", lambda i: store.keys.cached(plaintext, 5)))
    print("parts, in-process (median µs per call):")
    for name, fn in cases:
        print(f"  {name:32} {per_call(fn, n):8.0f}")
    store.close()


async def asgi_call(app: Any, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    """One request through the ASGI interface; the response status."""
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/score", "raw_path": b"/v1/score", "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 1), "server": ("x", 80),
    }  # fmt: skip
    await app(scope, receive, send)
    return status


def in_process(model_dir: str, work: Path, bodies_file: Path, n: int) -> None:
    import uvloop

    from leadscore.store import Store

    url = f"sqlite:///{work / 'asgi.db'}"
    plaintext = Store(url).keys.create("bench", ["score"])[0]
    app = stubbed_app(model_dir, url, str(bodies_file))
    bodies = [json.dumps(b).encode() for b in json.loads(bodies_file.read_text())]

    async def run() -> float:
        async with app.router.lifespan_context(app):
            times = []
            for i in range(n + 200):
                body = bodies[i % len(bodies)]
                headers = [
                    (b"authorization", f"Bearer {plaintext}".encode()),
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ]
                started = time.perf_counter()
                status = await asgi_call(app, body, headers)
                if i >= 200:
                    times.append(time.perf_counter() - started)
                assert status == 200, status
            return statistics.median(times) * 1e6

    print(f"\nwhole app in-process (ASGI, one request at a time): {uvloop.run(run()):.0f} µs")


def web_layer(model_dir: str, work: Path, bodies_file: Path, n: int) -> None:
    import uvloop

    from leadscore.live import LiveScoring
    from leadscore.service.deps import attribute_model
    from leadscore.service.inputs import check_attributes
    from leadscore.store import Store

    url = f"sqlite:///{work / 'web.db'}"
    plaintext = Store(url).keys.create("bench", ["score"])[0]
    app = stubbed_app(model_dir, url, str(bodies_file))
    bodies = [json.dumps(b).encode() for b in json.loads(bodies_file.read_text())]

    async def run() -> list[float]:
        async with app.router.lifespan_context(app):
            live = app.state.live
            first = json.loads(bodies[0])
            schema = attribute_model(live.slot.current)
            made = live.score_lead(
                first["lead_id"], check_attributes(schema, first["attributes"], ())
            )
            real = LiveScoring.score_lead
            LiveScoring.score_lead = lambda self, lead_id, attributes: made  # type: ignore[method-assign,assignment]
            try:
                medians = []
                for _ in range(5):  # the median of each round; the lowest round is printed
                    times = []
                    for i in range(n):
                        body = bodies[i % len(bodies)]
                        headers = [
                            (b"authorization", f"Bearer {plaintext}".encode()),
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ]
                        started = time.process_time()
                        status = await asgi_call(app, body, headers)
                        times.append(time.process_time() - started)
                        assert status == 200, status
                    medians.append(statistics.median(times) * 1e6)
                return medians
            finally:
                LiveScoring.score_lead = real  # type: ignore[method-assign]

    medians = uvloop.run(run())
    print(
        f"web layer alone (score_lead stubbed, in-process): CPU {min(medians):.0f} µs per "
        f"request (medians of 5 rounds: {', '.join(f'{m:.0f}' for m in medians)})"
    )


def http_request(body: bytes, key: str) -> bytes:
    return (
        b"POST /v1/score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def read_response(sock: socket.socket, buffer: bytearray) -> int:
    """Read one HTTP/1.1 response (Content-Length framed) off ``sock``; its status."""
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(65536)
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        rest += sock.recv(65536)
    del buffer[:]
    buffer += rest[length:]
    return int(head.split(b" ", 2)[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def end_to_end(model_dir: str, work: Path, bodies_file: Path, n: int) -> None:
    from leadscore.store import Store

    url = f"sqlite:///{work / 'e2e.db'}"
    key = Store(url).keys.create("bench", ["score"])[0]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (work / "bench_stub.py").write_text(Path(__file__).read_text())
    (work / "server.py").write_text(SERVER)
    server = subprocess.Popen(
        [sys.executable, str(work / "server.py"), model_dir, url, str(bodies_file), str(port)],
        cwd=work, env={**os.environ, "PYTHONPATH": os.pathsep.join([str(work), *sys.path])},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.2)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        requests = [
            http_request(json.dumps(b).encode(), key) for b in json.loads(bodies_file.read_text())
        ]
        buffer = bytearray()
        for i in range(300):  # warm up
            sock.sendall(requests[i % len(requests)])
            assert read_response(sock, buffer) == 200
        cpu_before = cpu_seconds(server.pid)
        times = []
        for i in range(n):
            started = time.perf_counter()
            sock.sendall(requests[i % len(requests)])
            status = read_response(sock, buffer)
            times.append(time.perf_counter() - started)
            assert status == 200, status
        cpu = (cpu_seconds(server.pid) - cpu_before) / n
        sock.close()
        times.sort()
        p50, p99 = times[len(times) // 2], times[int(len(times) * 0.99)]
        print(
            f"\nreal server (uvicorn, own process), {n} requests on one keep-alive connection:\n"
            f"  server CPU {cpu * 1e6:.0f} µs per request; round trip p50 {p50 * 1e3:.2f} ms, "
            f"p99 {p99 * 1e3:.2f} ms"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--model", help="A saved model folder (default: train a small one).")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="leadscore-overhead-"))
    model_dir = args.model
    if model_dir is None:
        from leadscore.demo import generate_leads
        from leadscore.lifecycle.artifacts import save_model
        from leadscore.modeling.model import LeadModel

        table = generate_leads(1500, seed=1).table
        model = LeadModel("lightgbm", cv=3).fit(
            table.drop(columns=["lead_id", "converted", "sales_status"]), table["converted"]
        )
        model_dir = str(save_model(model, work / "model"))
    bodies = demo_bodies(2000)
    bodies_file = work / "bodies.json"
    bodies_file.write_text(json.dumps(bodies))

    parts(model_dir, work, bodies, args.requests)
    in_process(model_dir, work, bodies_file, args.requests)
    web_layer(model_dir, work, bodies_file, args.requests)
    end_to_end(model_dir, work, bodies_file, args.requests)


if __name__ == "__main__":
    main()
