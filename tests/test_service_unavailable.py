"""A store that cannot serve now: bounded waits, 503 JSON with Retry-After, readiness,
recovery (issue 19, rows 1 and 2), through the app's real lifespan and its own store
(opened with ``service.store_wait_s``, as ``leadscore serve`` opens it).

The fault-injection suite (tests/faults/) does the same against a real server process.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lead_rows import attributes
from leadscore.config import ServiceSettings, Settings
from leadscore.demo import generate_leads
from leadscore.service import create_app
from leadscore.store import UNAVAILABLE, Store, StoreUnavailable

WAIT_S = 0.3


@pytest.fixture(scope="module")
def lead() -> dict[str, Any]:
    return attributes(generate_leads(5, seed=3, labelled=False).table.iloc[0])


class Served:
    def __init__(self, client: TestClient, path: Path, key: str) -> None:
        self.client = client
        self.path = path
        self.headers = {"X-API-Key": key}

    def score(self, lead_id: str, attributes: dict[str, Any]) -> Any:
        body = {"lead_id": lead_id, "attributes": attributes}
        return self.client.post("/v1/score", json=body, headers=self.headers)


@pytest.fixture
def served(model_dir: Path, tmp_path: Path) -> Iterator[Served]:
    path = tmp_path / "leadscore.db"
    url = f"sqlite:///{path}"
    with Store(url) as store:
        key = store.keys.create("test", ["admin"])[0]
    settings = Settings(
        database_url=url,
        tracking=False,
        mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        service=ServiceSettings(model=str(model_dir), store_wait_s=WAIT_S, model_check_s=0),
    )
    app = create_app(settings, deliver_webhooks=False)  # the app opens its own store
    with TestClient(app) as client:
        yield Served(client, path, key)


@contextmanager
def sqlite_write_lock(path: Path) -> Iterator[None]:
    """SQLite's write lock held by another connection, as another process would hold it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


# ----------------------------------------------------------------------------- the store


@contextmanager
def write_lock(db_url: str) -> Iterator[None]:
    """The store's write lock held by another connection, as another process would:
    ``BEGIN IMMEDIATE`` on SQLite, the leads table locked against writers on PostgreSQL."""
    if db_url.startswith("sqlite"):
        with sqlite_write_lock(Path(db_url.removeprefix("sqlite:///"))):
            yield
        return
    import psycopg

    with psycopg.connect(db_url) as pg:  # (the URL names the test's schema)
        pg.execute("LOCK TABLE leads IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            pg.rollback()


def test_a_bounded_store_gives_up_on_a_held_lock(db_url: str) -> None:
    with Store(db_url, wait_s=WAIT_S) as store:
        store.leads.upsert("L1", {"a": 1})
        with write_lock(db_url):
            started = time.monotonic()
            with pytest.raises(UNAVAILABLE) as caught:
                store.leads.upsert("L2", {"a": 2})
            waited = time.monotonic() - started
            assert store.leads.get("L1") is not None  # reads go on meanwhile
        assert "lock" in str(caught.value)
        assert waited < 10  # bounded (SQLite's default busy timeout is 30 s; PostgreSQL's none)
        store.leads.upsert("L2", {"a": 2})  # free again: the write goes through
        assert store.leads.get("L2") is not None


def test_writers_of_one_process_queue_for_a_bounded_time(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 's.db'}", wait_s=WAIT_S) as store:
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:
            with store.db.write():
                holding.set()
                release.wait(30)

        holder = threading.Thread(target=hold)
        holder.start()
        try:
            assert holding.wait(30)
            with pytest.raises(StoreUnavailable, match="busy"):
                store.leads.upsert("L1", {})
        finally:
            release.set()
            holder.join(30)
        store.leads.upsert("L1", {})
        assert store.leads.get("L1") is not None


# ----------------------------------------------------------------------------- the service


def test_a_held_lock_answers_503_with_retry_after_then_recovers(
    served: Served, lead: dict[str, Any]
) -> None:
    assert served.score("W0", lead).status_code == 200
    with sqlite_write_lock(served.path):
        busy = served.score("W1", lead)
        assert served.client.get("/healthz").status_code == 200
        read = served.client.get("/v1/leads/W0", headers=served.headers)
    assert busy.status_code == 503
    assert busy.headers["content-type"] == "application/json"
    assert busy.headers["retry-after"] == "1"
    assert "locked" in busy.json()["detail"] or "busy" in busy.json()["detail"]
    assert read.status_code == 200  # reads are not held by a writer
    after = served.score("W1", lead)
    assert after.status_code == 200, after.text
    history = served.client.get("/v1/leads/W1", headers=served.headers).json()["history"]
    assert len(history) == 1  # the refused attempt left nothing behind


def test_a_store_file_moved_away_is_not_ready_and_never_500(
    served: Served, lead: dict[str, Any]
) -> None:
    assert served.score("M0", lead).status_code == 200
    assert served.client.get("/readyz").status_code == 200
    aside = served.path.with_name("aside.db")
    os.rename(served.path, aside)
    try:
        ready = served.client.get("/readyz")
        answers = [served.score(f"M{i}", lead) for i in range(1, 6)]
        answers.append(served.client.get("/v1/leads/M0", headers=served.headers))
        recreated = served.path.exists()  # an empty store made in its place
    finally:
        os.rename(aside, served.path)
    assert ready.status_code == 503
    assert ready.json()["status"] == "not ready"
    assert ready.json()["checks"]["database"].startswith("unreachable")
    assert {a.status_code for a in answers} == {503}, [a.text for a in answers]
    assert all(a.headers["retry-after"] == "1" for a in answers)
    assert not recreated
    # back: ready again and every request succeeds, without a restart
    assert served.client.get("/readyz").status_code == 200
    assert [served.score(f"B{i}", lead).status_code for i in range(10)] == [200] * 10
    assert served.client.get("/v1/leads/M0", headers=served.headers).status_code == 200


def test_an_unexpected_error_is_a_json_500_naming_no_internals(
    served: Served, lead: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadscore.live import LiveScoring

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(LiveScoring, "score_lead", broken)
    client = TestClient(served.client.app, raise_server_exceptions=False)
    answer = client.post(
        "/v1/score", json={"lead_id": "X1", "attributes": lead}, headers=served.headers
    )
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/json"
    assert "secret" not in answer.text


def test_a_lead_is_scored_on_the_loop_only_when_the_store_needs_no_wait(
    served: Served, lead: dict[str, Any]
) -> None:
    """``score_lead_now``: stored at once when nothing holds the store; None (nothing
    stored, no wait) when another process holds SQLite's lock or this process's writer
    is busy; the service then scores in a thread."""
    live = served.client.app.state.live
    model = live.slot.current
    attributes = {name: lead.get(name) for name in model.model.schema_.names}
    now = live.score_lead_now("N1", attributes)
    assert now is not None and now.record.lead_id == "N1"
    with sqlite_write_lock(served.path):
        started = time.monotonic()
        assert live.score_lead_now("N2", attributes) is None
        assert time.monotonic() - started < WAIT_S  # gave up without waiting
    assert live.store.scores.latest("N2") is None  # nothing half-written
    with live.store.db.write_lock:  # another thread of this process is writing
        assert live.score_lead_now("N3", attributes) is None
    assert live.score_lead_now("N3", attributes) is not None
