"""``Idempotency-Key``: a retried write answers the stored answer and writes nothing again
(issue 19, row 13), on SQLite and PostgreSQL; and ``/readyz`` while draining.

The served model is the events demo's (it scores attributes and re-scores from events),
trained once per module; the app runs its real lifespan with real API keys.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from leadscore.cli import app as cli
from leadscore.config import ServiceSettings, Settings
from leadscore.data.events import load_events
from leadscore.live import LiveScoring, ModelSlot
from leadscore.modeling.model import LeadModel
from leadscore.service import create_app
from leadscore.service.idempotency import fingerprint
from leadscore.service.schemas import LeadIn
from leadscore.store import Store, StoreError
from leadscore.store.idempotency import PRUNE_BATCH
from leadscore.store.tables import IdempotencyKey, utcnow

runner = CliRunner(env={"COLUMNS": "200", "LEADSCORE_DEBUG": None, "LEADSCORE_CONFIG": None})


def run(*args: object) -> None:
    result = runner.invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo events → lead features → a logistic model (as tests/test_service_events.py)."""
    folder = tmp_path_factory.mktemp("idempotency-demo")
    run("demo-data", "--events", "--rows", 600, "--new-rows", 10, "--out", folder)
    run(
        "features", folder / "events.jsonl", "--labels", folder / "outcomes.csv",
        "--out", folder / "leads.parquet",
    )  # fmt: skip
    run("train", folder / "leads.parquet", "--model", "logreg_l2", "--cv", 3, "--quiet",
        "--out", folder / "model")  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def lead(demo: Path) -> dict[str, Any]:
    """One lead's attributes (its features) as a JSON body takes them."""
    row = pd.read_parquet(demo / "leads.parquet").iloc[0]
    inputs = {c.name for c in LeadModel.load(demo / "model").schema_.columns}
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key not in inputs:
            continue
        if isinstance(value, pd.Timestamp):
            value = value.isoformat()
        elif hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float) and pd.isna(value):
            value = None
        out[str(key)] = value
    return out


def events_body(demo: Path) -> dict[str, Any]:
    events = load_events(demo / "new_events.jsonl").events
    lead_id = events["lead_id"].value_counts().index[0]
    mine = events[events["lead_id"] == lead_id].sort_values("timestamp").head(5)
    body = [
        {"time": r["timestamp"].tz_localize("UTC").isoformat(), "name": r["event"],
         "event_id": str(r["event_id"])}
        for r in mine.to_dict("records")
    ]  # fmt: skip
    return {"lead_id": str(lead_id), "events": body}


class Api:
    """The running app, its store, and two clients (API keys with every scope)."""

    def __init__(self, client: TestClient, store: Store) -> None:
        self.client, self.store = client, store
        self.keys = [store.keys.create(f"client-{i}", ["admin"]) for i in (1, 2)]

    def post(self, path: str, body: Any, key: str | None = None, client: int = 0) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[client][0]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post(path, json=body, headers=headers)

    def history(self, lead_id: str) -> list[dict[str, Any]]:
        answer = self.client.get(f"/v1/leads/{lead_id}", headers={"X-API-Key": self.keys[0][0]})
        return answer.json()["history"] if answer.status_code == 200 else []  # type: ignore[no-any-return]


@pytest.fixture
def api(db_url: str, demo: Path, tmp_path: Path) -> Iterator[Api]:
    settings = Settings(
        database_url=db_url,
        tracking=False,
        mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        service=ServiceSettings(),
    )
    store = Store(db_url)
    slot = ModelSlot.load(str(demo / "model"), settings)
    app = create_app(settings, store=store, slot=slot, deliver_webhooks=False)
    with TestClient(app) as client:
        yield Api(client, store)
    store.close()


# ----------------------------------------------------------------------------- the API


def test_a_retried_score_answers_the_stored_answer_and_appends_nothing(
    api: Api, lead: dict[str, Any]
) -> None:
    body = {"lead_id": "R1", "attributes": lead}
    first = api.post("/v1/score", body, key="order-1")
    assert first.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers
    again = api.post("/v1/score", body, key="order-1")
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()  # the same score, the same scored_at
    assert len(api.history("R1")) == 1
    # a new key is a new request; no key, as before, appends every time
    assert api.post("/v1/score", body, key="order-2").status_code == 200
    assert api.post("/v1/score", body).status_code == 200
    assert len(api.history("R1")) == 3


def test_a_key_used_for_another_request_is_refused(api: Api, lead: dict[str, Any]) -> None:
    assert api.post("/v1/score", {"lead_id": "R2", "attributes": lead}, key="k").status_code == 200
    other = api.post("/v1/score", {"lead_id": "R3", "attributes": lead}, key="k")
    assert other.status_code == 422
    assert "another request" in other.json()["detail"]
    elsewhere = api.post("/v1/score/batch", {"leads": [{"lead_id": "R2", "attributes": lead}]},
                         key="k")  # fmt: skip
    assert elsewhere.status_code == 422
    assert api.history("R3") == [] and len(api.history("R2")) == 1


def test_keys_are_per_client(api: Api, lead: dict[str, Any]) -> None:
    one = api.post("/v1/score", {"lead_id": "C1", "attributes": lead}, key="same", client=0)
    two = api.post("/v1/score", {"lead_id": "C2", "attributes": lead}, key="same", client=1)
    assert one.status_code == two.status_code == 200
    assert "idempotent-replayed" not in two.headers
    assert (one.json()["lead_id"], two.json()["lead_id"]) == ("C1", "C2")


def test_batches_events_and_outcomes_are_retry_safe(
    api: Api, demo: Path, lead: dict[str, Any]
) -> None:
    batch = {"leads": [{"lead_id": f"B{i}", "attributes": lead} for i in range(3)]}
    first = api.post("/v1/score/batch", batch, key="batch-1")
    again = api.post("/v1/score/batch", batch, key="batch-1")
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    assert [len(api.history(f"B{i}")) for i in range(3)] == [1, 1, 1]

    events = events_body(demo)
    first = api.post("/v1/events", events, key="events-1")
    again = api.post("/v1/events", events, key="events-1")
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["score"] is not None and first.json()["new"] == len(events["events"])
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert len(api.history(events["lead_id"])) == 1  # re-scored once

    outcome = {"lead_id": "B0", "converted": True}
    first = api.post("/v1/outcomes", outcome, key="won-B0")
    again = api.post("/v1/outcomes", outcome, key="won-B0")
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert len(api.store.outcomes.all()) == 1


def test_a_request_in_progress_answers_409_then_its_answer(api: Api, lead: dict[str, Any]) -> None:
    body = {"lead_id": "P1", "attributes": lead}
    client_id = api.keys[0][1].id
    request_hash = fingerprint("POST", "/v1/score", LeadIn.model_validate(body))
    # the first request has claimed the key and not answered yet
    assert api.store.idempotency.claim(client_id, "slow", request_hash) is None
    busy = api.post("/v1/score", body, key="slow")
    assert busy.status_code == 409 and busy.headers["retry-after"] == "1"
    assert "in progress" in busy.json()["detail"]
    assert api.history("P1") == []
    api.store.idempotency.complete(client_id, "slow", 200, '{"lead_id": "P1"}')
    done = api.post("/v1/score", body, key="slow")
    assert done.status_code == 200 and done.json() == {"lead_id": "P1"}


def test_a_failed_request_releases_its_key(api: Api, lead: dict[str, Any]) -> None:
    outcome = {"lead_id": "F1", "converted": False}
    assert api.post("/v1/outcomes", outcome, key="lost-F1").status_code == 404  # no such lead
    assert api.post("/v1/score", {"lead_id": "F1", "attributes": lead}).status_code == 200
    retried = api.post("/v1/outcomes", outcome, key="lost-F1")
    assert retried.status_code == 200 and "idempotent-replayed" not in retried.headers
    assert api.store.outcomes.latest("F1") is not None


def test_the_answer_commits_with_the_score_or_neither_does(
    api: Api, lead: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"lead_id": "T1", "attributes": lead}
    real = api.store.idempotency.complete

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the process dies while storing the answer")

    monkeypatch.setattr(api.store.idempotency, "complete", crash)
    with pytest.raises(RuntimeError):
        api.post("/v1/score", body, key="t-1")
    assert api.history("T1") == []  # the score was rolled back with its answer
    assert api.store.idempotency.get(api.keys[0][1].id, "t-1") is None  # released
    monkeypatch.setattr(api.store.idempotency, "complete", real)
    assert api.post("/v1/score", body, key="t-1").status_code == 200
    assert api.post("/v1/score", body, key="t-1").headers["idempotent-replayed"] == "true"
    assert len(api.history("T1")) == 1


@pytest.mark.parametrize("key", ["x" * 201, "tab\there", "clé"])
def test_a_malformed_key_is_refused(api: Api, lead: dict[str, Any], key: str) -> None:
    answer = api.client.post(
        "/v1/score",
        json={"lead_id": "M1", "attributes": lead},
        headers={"Authorization": f"Bearer {api.keys[0][0]}",
                 "Idempotency-Key": key.encode()},  # type: ignore[dict-item]
    )  # fmt: skip
    assert answer.status_code == 400 and "Idempotency-Key" in answer.json()["detail"]
    assert api.history("M1") == []


def test_readyz_says_draining_and_answers_close_their_connection(api: Api) -> None:
    assert api.client.get("/readyz").status_code == 200
    api.client.app.state.drain.begin()  # type: ignore[attr-defined]
    ready = api.client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "draining"
    assert ready.headers["connection"] == "close"
    assert api.client.get("/healthz").headers["connection"] == "close"


# ----------------------------------------------------------------------------- the store


def test_one_of_two_concurrent_claims_wins(db_url: str) -> None:
    with Store(db_url) as store:
        client_id = store.keys.create("crm", ["score"])[1].id
        for attempt in range(10):
            barrier = threading.Barrier(2)
            won: list[bool] = []

            def claim(key: str, barrier: threading.Barrier, won: list[bool]) -> None:
                barrier.wait()
                won.append(store.idempotency.claim(client_id, key, "h") is None)

            threads = [
                threading.Thread(target=claim, args=(f"race-{attempt}", barrier, won))
                for _ in range(2)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(won) == [False, True]


def test_old_answers_are_pruned_and_count_as_absent(db_url: str) -> None:
    with Store(db_url) as store:
        client_id = store.keys.create("crm", ["score"])[1].id
        for i in range(PRUNE_BATCH + 5):
            assert store.idempotency.claim(client_id, f"old-{i}", "h") is None
            store.idempotency.complete(client_id, f"old-{i}", 200, "{}")
        table = IdempotencyKey.__table__
        with store.engine.begin() as conn:
            conn.execute(update(table).values(created_at=utcnow() - timedelta(days=2)))
            # expired too, but the newest: not among the oldest ones a claim prunes
            newest = update(table).where(table.c.key == "old-0")
            conn.execute(newest.values(created_at=utcnow() - timedelta(hours=25)))
        # an expired answer is not replayed: the request is done again
        assert store.idempotency.claim(client_id, "old-0", "h") is None
        left = [store.idempotency.get(client_id, f"old-{i}") for i in range(1, PRUNE_BATCH + 5)]
        assert sum(r is not None for r in left) == 4  # the oldest batch pruned by that claim
        assert store.idempotency.prune() == 4
        assert store.idempotency.get(client_id, "old-0") is not None  # the new claim stays


def test_an_abandoned_claim_lapses_after_its_lease(db_url: str) -> None:
    with Store(db_url) as store:
        client_id = store.keys.create("crm", ["score"])[1].id
        assert store.idempotency.claim(client_id, "k", "h") is None
        assert store.idempotency.claim(client_id, "k", "h", lease_s=60).pending  # type: ignore[union-attr]
        assert store.idempotency.claim(client_id, "k", "h", lease_s=0) is None
        with pytest.raises(StoreError, match="printable"):
            store.idempotency.claim(client_id, "é", "h")


def test_then_runs_inside_the_scoring_transaction(
    demo: Path, lead: dict[str, Any], tmp_path: Path
) -> None:
    settings = Settings(tracking=False)
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        live = LiveScoring(ModelSlot.load(str(demo / "model"), settings), store)

        def fail(_conn: Any, _scores: Any) -> None:
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            live.score_leads([("X1", lead)], then=fail)
        assert store.scores.history("X1") == []
        seen: list[str] = []
        scored = live.score_leads([("X1", lead)], then=lambda _c, s: seen.append(s[0].lead_id))
        assert seen == ["X1"] and store.scores.history("X1")[0].id == scored[0].record.id
