"""The scoring API with a model trained on raw events, and `leadscore serve` as a real
process: events posted to the API re-score the lead with the training feature code."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from leadscore.cli import app as cli
from leadscore.config import ServiceSettings, Settings
from leadscore.data.events import load_events
from leadscore.lifecycle.artifacts import save_model
from leadscore.live import ModelSlot
from leadscore.modeling.model import LeadModel
from leadscore.service import create_app
from leadscore.store import Store

runner = CliRunner(env={"COLUMNS": "200", "LEADSCORE_DEBUG": None, "LEADSCORE_CONFIG": None})


def run(*args: object) -> str:
    result = runner.invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo events → lead features → a trained model, as `make demo` does (smaller)."""
    folder = tmp_path_factory.mktemp("events-demo")
    run("demo-data", "--events", "--rows", 1200, "--new-rows", 40, "--out", folder)
    run(
        "features", folder / "events.jsonl", "--labels", folder / "outcomes.csv",
        "--out", folder / "leads.parquet",
    )  # fmt: skip
    run("train", folder / "leads.parquet", "--model", "logreg_l2", "--cv", 3, "--quiet",
        "--out", folder / "model")  # fmt: skip
    return folder


def new_events(demo: Path) -> pd.DataFrame:
    return load_events(demo / "new_events.jsonl").events


def as_body(events: pd.DataFrame) -> list[dict[str, Any]]:
    """Events of one lead as the API takes them."""
    out = []
    for row in events.to_dict("records"):
        event = {"time": row["timestamp"].tz_localize("UTC").isoformat(), "name": row["event"]}
        for field in ("event_id", "url", "referrer", "user_agent", "ip", "utm_source",
                      "utm_medium", "page_title", "tz_offset_minutes"):  # fmt: skip
            value = row.get(field)
            if value is not None and not (isinstance(value, float) and pd.isna(value)):
                event[field] = value.item() if hasattr(value, "item") else value
        out.append(event)
    return out


@pytest.fixture
def client(demo: Path, tmp_path: Path) -> Iterator[tuple[TestClient, Store, dict[str, str]]]:
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    settings = Settings(
        database_url=url,
        tracking=False,
        mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        service=ServiceSettings(),
    )
    store = Store(url)
    slot = ModelSlot.load(str(demo / "model"), settings)
    app = create_app(settings, store=store, slot=slot, deliver_webhooks=False)
    key = store.keys.create("test", ["ingest", "read"])[0]
    with TestClient(app) as test_client:
        yield test_client, store, {"Authorization": f"Bearer {key}"}
    store.close()


def test_posted_events_rescore_the_lead_like_the_batch(
    demo: Path, client: tuple[TestClient, Store, dict[str, str]]
) -> None:
    api, store, headers = client
    events = new_events(demo)
    lead = events["lead_id"].value_counts().index[0]
    mine = events[events["lead_id"] == lead].sort_values("timestamp")
    half = len(mine) // 2
    first = api.post("/v1/events", json={"lead_id": lead, "events": as_body(mine.iloc[:half])},
                     headers=headers)  # fmt: skip
    assert first.status_code == 200, first.text
    assert first.json()["new"] == half and first.json()["score"] is not None
    second = api.post("/v1/events", json={"lead_id": lead, "events": as_body(mine)},
                      headers=headers)  # fmt: skip
    body = second.json()
    assert body["received"] == len(mine) and body["new"] == len(mine) - half  # re-posts ignored
    assert len(store.events.for_lead(str(lead))) == len(mine)
    # the same features, computed by the batch path, as of the same moment
    model = LeadModel.load(demo / "model")
    as_of = pd.Timestamp(body["score"]["scored_at"]).tz_convert("UTC").tz_localize(None)
    batch = model.score_events(mine, as_of=as_of)
    assert body["score"]["score"] == pytest.approx(batch["score"].iloc[0], abs=0.02)
    history = api.get(f"/v1/leads/{lead}", headers=headers).json()["history"]
    assert len(history) == 2


def test_malformed_events_answer_422_and_store_nothing(
    client: tuple[TestClient, Store, dict[str, str]],
) -> None:
    api, store, headers = client
    good = {"time": "2026-03-01T10:00:00Z", "name": "page_view"}
    cases = [
        ({**good, "time": "not a time"}, ["body", "events", 1, "time"]),
        ({**good, "time": "2026-03-01T10:00:00"}, ["body", "events", 1, "time"]),  # no zone
        ({"time": good["time"]}, ["body", "events", 1, "name"]),
        ({**good, "colour": "red"}, ["body", "events", 1, "colour"]),
        ({**good, "tz_offset_minutes": 5000}, ["body", "events", 1, "tz_offset_minutes"]),
    ]
    for bad, loc in cases:
        response = api.post("/v1/events", json={"lead_id": "E1", "events": [good, bad]},
                            headers=headers)  # fmt: skip
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["detail"][0]["loc"] == loc
    assert store.leads.get("E1") is None
    epoch = {**good, "time": 1772359200}
    accepted = api.post("/v1/events", json={"lead_id": "E1", "events": [epoch]}, headers=headers)
    assert accepted.status_code == 200, accepted.text
    assert store.events.for_lead("E1")[0].time.isoformat().startswith("2026-03-01T10:00:00")


# ----------------------------------------------------------------------------- real server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_leadscore_serve_scores_and_calls_webhooks(
    demo: Path, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`leadscore serve` as its own process, on SQLite and on PostgreSQL."""
    # the receiver is on 127.0.0.1: the CLI and the served process are told they may reach it
    monkeypatch.setenv("LEADSCORE_WEBHOOKS__ALLOW_PRIVATE", "true")
    url = db_url
    Receiver.received.clear()
    receiver = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_port}/hook"
    base = ["--database", url]
    created = run("keys", "create", "crm", "--scope", "ingest", "--scope", "read", *base)
    key = next(line for line in created.splitlines() if line.startswith("ls_"))
    assert key[:8] in run("keys", "list", *base)  # listed by prefix, never in full
    assert key not in run("keys", "list", *base)
    run("webhooks", "add", hook, "--secret", "s3cret", "--kind", "hot", *base)
    port = free_port()
    env = {
        **os.environ,
        "LEADSCORE_TRACKING": "false",
        "LEADSCORE_SERVICE__WEBHOOK_INTERVAL_S": "0.2",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "leadscore.cli", "serve", str(demo / "model"), "--port", str(port),
         "--access-log", *base],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        root = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{root}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            server.kill()
            pytest.fail(f"server did not become ready: {server.stdout.read()}")
        headers = {"Authorization": f"Bearer {key.strip()}"}
        events = new_events(demo)
        hot_lead = None
        for lead, mine in events.groupby("lead_id", observed=True):
            answer = httpx.post(f"{root}/v1/events", headers=headers, timeout=30,
                                json={"lead_id": str(lead), "events": as_body(mine)})  # fmt: skip
            assert answer.status_code == 200, answer.text
            if answer.json()["score"]["segment"] == "hot":
                hot_lead = str(lead)
                break
        assert hot_lead is not None, "no demo lead scored hot"
        for _ in range(100):  # the dispatcher polls every 0.2 s
            if Receiver.received:
                break
            time.sleep(0.1)
        headers_in, body = Receiver.received[0]
        payload = json.loads(body)
        assert payload["event"] == "lead.hot" and payload["lead_id"] == hot_lead
        stamp, signature = (
            p.split("=", 1)[1] for p in headers_in["X-Leadscore-Signature"].split(",")
        )
        expected = hmac.new(b"s3cret", f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(signature, expected)
        queue = httpx.get(f"{root}/v1/leads?segment=hot", headers=headers).json()
        assert hot_lead in [lead["lead_id"] for lead in queue["leads"]]
        assert httpx.get(f"{root}/docs").status_code == 200
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
        receiver.shutdown()
    # --access-log: a line per request (off by default)
    assert '"POST /v1/events HTTP/1.1" 200' in output


def test_a_new_model_reaches_every_worker(demo: Path, tmp_path: Path) -> None:
    """`leadscore serve --workers 2`: a reload answered by one worker reaches the other
    too (each checks what its model reference names)."""
    served = tmp_path / "served"
    save_model(LeadModel.load(demo / "model"), served)
    url = f"sqlite:///{tmp_path / 'workers.db'}"
    created = run("keys", "create", "ops", "--scope", "admin", "--database", url)
    key = next(line for line in created.splitlines() if line.startswith("ls_")).strip()
    port = free_port()
    env = {**os.environ, "LEADSCORE_TRACKING": "false", "LEADSCORE_SERVICE__MODEL_CHECK_S": "0.3"}
    server = subprocess.Popen(
        [sys.executable, "-m", "leadscore.cli", "serve", str(served), "--port", str(port),
         "--workers", "2", "--database", url],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    root, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {key}"}

    def answers(n: int) -> dict[int, set[str]]:
        """Version served, by worker process, over ``n`` fresh connections."""
        seen: dict[int, set[str]] = {}
        for _ in range(n):
            body = httpx.get(f"{root}/v1/models", headers=headers, timeout=30).json()
            seen.setdefault(body["serving"]["worker"], set()).add(body["serving"]["version"])
        return seen

    try:
        workers: dict[int, set[str]] = {}
        deadline = time.monotonic() + 120
        while len(workers) < 2:  # both workers up and answering
            assert time.monotonic() < deadline, "two workers did not answer"
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                for pid, versions in answers(10).items():
                    workers.setdefault(pid, set()).update(versions)
            except httpx.TransportError:
                time.sleep(0.2)
        (before,) = set().union(*workers.values())
        model = LeadModel.load(served)
        model.metadata_["trained_at"] = "2026-11-23T12:00:00+00:00"  # as if retrained
        save_model(model, served)
        reloaded = httpx.post(f"{root}/v1/models/reload", headers=headers, timeout=60).json()
        after = reloaded["version"]
        assert after != before
        deadline = time.monotonic() + 30
        while True:
            seen = answers(20)
            if len(seen) == 2 and all(v == {after} for v in seen.values()):
                break
            assert time.monotonic() < deadline, f"workers still serve {seen}"
            time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
