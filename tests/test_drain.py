"""SIGTERM under load against a real ``leadscore serve`` process (issue 19, row 13): the
requests it had accepted all answer 200, ``/readyz`` says "draining" meanwhile, idle
keep-alive connections are closed cleanly (not reset), and the process exits 0 within
``service.drain_s``.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from leadscore import LeadModel
from leadscore.demo import DemoLeads, generate_leads
from leadscore.lifecycle.artifacts import save_model
from leadscore.store import Store

pytestmark = pytest.mark.slow

DRAIN_S = 20
DRAIN_DELAY_S = 1.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def lead_bodies(n: int) -> list[dict[str, Any]]:
    table = generate_leads(n, seed=4, labelled=False).table
    out = []
    for i, row in enumerate(table.to_dict("records")):
        row.pop("lead_id")
        attributes = {
            k: (v.isoformat() if isinstance(v, pd.Timestamp) else
                None if isinstance(v, float) and np.isnan(v) else
                v.item() if isinstance(v, np.generic) else v)
            for k, v in row.items()
        }  # fmt: skip
        out.append({"lead_id": f"D{i}", "attributes": attributes})
    return out


class Server:
    """A ``leadscore serve`` process with an admin key."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, key: str, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=DRAIN_S + 10)


@pytest.fixture(scope="module")
def model_dir(demo_leads: DemoLeads, tmp_path_factory: pytest.TempPathFactory) -> Path:
    table = demo_leads.table
    model = LeadModel("logreg_l2", cv=3).fit(
        table.drop(columns=["lead_id", "converted", "sales_status"]), table["converted"]
    )
    return save_model(model, tmp_path_factory.mktemp("drain") / "model")


@pytest.fixture
def server(model_dir: Path, tmp_path: Path) -> Iterator[Server]:
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    with Store(url) as store:
        key = store.keys.create("drain", ["admin"])[0]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_SERVICE")}
    env.update(
        LEADSCORE_TRACKING="false",
        LEADSCORE_SERVICE__DRAIN_S=str(DRAIN_S),
        LEADSCORE_SERVICE__DRAIN_DELAY_S=str(DRAIN_DELAY_S),
    )
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "leadscore.cli", "serve", str(model_dir),
             "--port", str(port), "--database", url, "--workers", "1"],
            env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    served = Server(process, port, key, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()
            try:
                conn = served.connect()
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_sigterm_lets_accepted_requests_finish_and_exits_0(server: Server) -> None:
    leads = lead_bodies(1000)
    # batches (long enough to be in progress at the SIGTERM) and single leads, each on a
    # keep-alive connection that has answered once already
    bodies: list[tuple[str, bytes]] = [
        ("/v1/score/batch", json.dumps({"leads": leads[i * 250 : (i + 1) * 250]}).encode())
        for i in range(4)
    ] + [("/v1/score", json.dumps(lead).encode()) for lead in leads[:16]]
    connections = [server.connect() for _ in bodies]
    for conn, (path, body) in zip(connections, bodies, strict=True):
        conn.request("POST", path, body=body, headers=server.headers)
        warm = conn.getresponse()
        assert warm.status == 200, warm.read()
        warm.read()
    idle = server.connect()  # a keep-alive connection idle at the SIGTERM
    idle.request("GET", "/healthz")
    assert idle.getresponse().read()

    sent = threading.Barrier(len(bodies) + 1)
    answers: dict[int, tuple[int | str, str | None]] = {}

    def send(i: int) -> None:
        conn = connections[i]
        path, body = bodies[i]
        conn.request("POST", path, body=body, headers=server.headers)  # fully sent
        sent.wait()
        try:
            response = conn.getresponse()
            response.read()
            answers[i] = (response.status, response.getheader("connection"))
        except OSError as exc:
            answers[i] = (type(exc).__name__, None)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    sent.wait()
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)

    # while it drains, a load balancer's probe hears "draining"
    probe = server.connect()
    probe.request("GET", "/readyz")
    ready = probe.getresponse()
    assert ready.status == 503 and json.loads(ready.read())["status"] == "draining"
    assert ready.getheader("connection") == "close"

    for t in threads:
        t.join()
    assert server.process.wait(timeout=DRAIN_S + 10) == 0, server.log.read_text()
    assert time.monotonic() - started < DRAIN_S
    assert sorted(answers) == list(range(len(bodies)))
    assert {status for status, _ in answers.values()} == {200}, answers
    # the idle connection was closed with a FIN, not reset
    assert idle.sock is not None
    assert idle.sock.recv(1) == b""
    log = server.log.read_text()
    assert "Traceback" not in log and "Finished server process" in log
    with Store(f"sqlite:///{server.log.parent / 'scores.db'}") as store:
        assert store.scores.segment_counts()  # the scores were stored before the store closed
