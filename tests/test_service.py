"""The scoring API (leadscore.service) through FastAPI's TestClient, on SQLite and PostgreSQL.

The app runs its real lifespan (store migrated, model loaded); requests carry real API
keys. The served model is a small LightGBM lead model trained once per module.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from lead_rows import attributes
from leadscore import LeadModel
from leadscore.config import ServiceSettings, Settings
from leadscore.demo import DemoLeads, generate_leads
from leadscore.lifecycle.artifacts import save_model
from leadscore.live import ModelSlot
from leadscore.service import create_app
from leadscore.service.schemas import ScoreOut
from leadscore.store import Store
from leadscore.store.keys import KeyRepository

NOT_FEATURES = ["lead_id", "converted", "sales_status"]


@pytest.fixture(scope="module")
def model_dir(demo_leads: DemoLeads, tmp_path_factory: pytest.TempPathFactory) -> Path:
    table = demo_leads.table
    model = LeadModel("lightgbm", cv=3).fit(
        table.drop(columns=NOT_FEATURES), table["converted"], id_column="lead_id"
    )
    return save_model(model, tmp_path_factory.mktemp("served") / "model")


@pytest.fixture(scope="module")
def fresh() -> pd.DataFrame:
    return generate_leads(60, seed=21, labelled=False).table


class Api:
    """A running app, its store and a key per scope."""

    def __init__(self, client: TestClient, store: Store, model: LeadModel) -> None:
        self.client = client
        self.store = store
        self.model = model
        self.keys = {
            scope: store.keys.create(f"test-{scope}", [scope])[0]
            for scope in ("score", "ingest", "read", "admin")
        }

    def post(self, path: str, body: Any, scope: str = "score", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[scope]}"}
        return self.client.post(path, json=body, headers=headers, **kwargs)

    def get(self, path: str, scope: str = "read", **kwargs: Any) -> Any:
        return self.client.get(path, headers={"X-API-Key": self.keys[scope]}, **kwargs)


def make_settings(db_url: str, tmp_path: Path, **service: Any) -> Settings:
    return Settings(
        database_url=db_url,
        tracking=False,
        mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",  # an empty registry, not ./mlflow.db
        service=ServiceSettings(**{"max_batch": 20, "max_body_bytes": 200_000, **service}),
    )


@pytest.fixture
def api(db_url: str, model_dir: Path, tmp_path: Path) -> Iterator[Api]:
    settings = make_settings(db_url, tmp_path)
    store = Store(db_url)
    slot = ModelSlot.load(str(model_dir), settings)
    app = create_app(settings, store=store, slot=slot, deliver_webhooks=False)
    with TestClient(app) as client:
        # the batch path's model (the service's own copy serves without its estimators)
        yield Api(client, store, LeadModel.load(model_dir))
    store.close()


# ----------------------------------------------------------------------------- scoring


def test_score_one_lead_matches_batch_and_is_stored(api: Api, fresh: pd.DataFrame) -> None:
    row = fresh.iloc[0]
    response = api.post("/v1/score", {"lead_id": "L1", "attributes": attributes(row)})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = api.model.score_leads(fresh.head(1))
    assert body["score"] == pytest.approx(expected["score"].iloc[0], abs=1e-9)
    assert body["score_100"] == expected["score_100"].iloc[0]
    assert body["segment"] == expected["segment"].iloc[0]
    assert body["contact"] == bool(expected["contact"].iloc[0])
    assert body["model_version"].startswith("model@")
    assert 0 < len(body["reasons"]) <= 6
    assert {r["direction"] for r in body["reasons"]} <= {"up", "down"}
    assert all("→" in r["text"] for r in body["reasons"])
    history = api.store.scores.history("L1")
    assert [h.score_100 for h in history] == [body["score_100"]]
    assert api.store.leads.get("L1").attributes["source"] == row["source"]


def test_history_and_trend(api: Api, fresh: pd.DataFrame) -> None:
    row = attributes(fresh.iloc[1])
    cold = {**row, "time_on_site_s": 5, "visits": 1, "returned_same_day": "no"}
    hot = {**row, "time_on_site_s": 3000, "visits": 9, "returned_same_day": "yes"}
    first = api.post("/v1/score", {"lead_id": "T1", "attributes": cold}).json()
    second = api.post("/v1/score", {"lead_id": "T1", "attributes": hot}).json()
    assert second["score_100"] > first["score_100"] + 5
    lead = api.get("/v1/leads/T1").json()
    assert lead["trend"] == "improving"
    assert lead["change"] == second["score_100"] - first["score_100"]
    assert [h["score_100"] for h in lead["history"]] == [second["score_100"], first["score_100"]]
    assert lead["latest"]["score_100"] == second["score_100"]
    assert lead["attributes"]["time_on_site_s"] == 3000
    api.post("/v1/score", {"lead_id": "T1", "attributes": cold})
    assert api.get("/v1/leads/T1").json()["trend"] == "declining"


def test_batch_scores_many_and_refuses_too_many(api: Api, fresh: pd.DataFrame) -> None:
    leads = [
        {"lead_id": f"B{i}", "attributes": attributes(r)} for i, r in fresh.head(15).iterrows()
    ]
    response = api.post("/v1/score/batch", {"leads": leads})
    assert response.status_code == 200, response.text
    scores = response.json()["scores"]
    expected = api.model.score_leads(fresh.head(15))
    assert [s["lead_id"] for s in scores] == [f"B{i}" for i in range(15)]
    np.testing.assert_allclose([s["score"] for s in scores], expected["score"], atol=1e-9)
    too_many = leads + [
        {"lead_id": f"X{i}", "attributes": leads[0]["attributes"]} for i in range(6)
    ]
    refused = api.post("/v1/score/batch", {"leads": too_many})
    assert refused.status_code == 413
    assert "at most 20" in refused.json()["detail"]
    assert api.store.leads.get("X0") is None  # nothing of a refused batch is stored


def test_an_oversized_body_is_refused(api: Api, fresh: pd.DataFrame) -> None:
    body = {"lead_id": "big", "attributes": {**attributes(fresh.iloc[0]), "source": "x" * 300_000}}
    response = api.post("/v1/score", body)
    assert response.status_code == 413
    assert "larger than 200,000 bytes" in response.json()["detail"]


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"visits": "lots"}, "visits", "valid number"),
        ({"colour": "red"}, "colour", "Not an input of the serving model"),
        ({"created_at": "yesterday-ish"}, "created_at", "datetime"),
        ({"source": ["google"]}, "source", "string"),
    ],
)
def test_bad_attributes_answer_422_naming_the_field(
    api: Api, fresh: pd.DataFrame, change: dict[str, Any], field: str, message: str
) -> None:
    body = {"lead_id": "bad", "attributes": {**attributes(fresh.iloc[0]), **change}}
    response = api.post("/v1/score", body)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "attributes", field]
    assert message in error["msg"]
    assert api.store.leads.get("bad") is None


def test_missing_fields_and_malformed_bodies_answer_422(api: Api, fresh: pd.DataFrame) -> None:
    row = attributes(fresh.iloc[0])
    del row["country"]
    missing = api.post("/v1/score", {"lead_id": "m", "attributes": row})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "attributes", "country"]
    assert "null" in missing.json()["detail"][0]["msg"]
    no_id = api.post("/v1/score", {"attributes": attributes(fresh.iloc[0])})
    assert no_id.status_code == 422
    assert no_id.json()["detail"][0]["loc"] == ["body", "lead_id"]
    extra = api.post("/v1/score", {"lead_id": "e", "attributes": {}, "priority": 1})
    assert any(e["loc"] == ["body", "priority"] for e in extra.json()["detail"])
    broken = api.client.post(
        "/v1/score",
        content=b'{"lead_id": "x", "attributes": {',
        headers={
            "Authorization": f"Bearer {api.keys['score']}",
            "Content-Type": "application/json",
        },
    )
    assert broken.status_code == 422
    batch = api.post(
        "/v1/score/batch", {"leads": [{"lead_id": "ok", "attributes": {"visits": "x"}}]}
    )
    assert batch.status_code == 422
    assert any(e["loc"][:4] == ["body", "leads", 0, "attributes"] for e in batch.json()["detail"])


def test_nulls_and_unknown_categories_are_scored_with_a_warning(
    api: Api, fresh: pd.DataFrame
) -> None:
    row = {**attributes(fresh.iloc[0]), "source": "tiktok", "visits": None, "country": None}
    response = api.post("/v1/score", {"lead_id": "U1", "attributes": row})
    assert response.status_code == 200, response.text
    warnings = response.json()["warnings"]
    assert warnings == ["source: 'tiktok' was not seen in training; scored like a rare level"]


# ----------------------------------------------------------------------------- security


def test_keys_and_scopes(api: Api, fresh: pd.DataFrame) -> None:
    body = {"lead_id": "S1", "attributes": attributes(fresh.iloc[0])}
    assert api.client.post("/v1/score", json=body).status_code == 401
    wrong = api.client.post("/v1/score", json=body, headers={"X-API-Key": "ls_not-a-key"})
    assert wrong.status_code == 401
    assert api.post("/v1/score", body, scope="read").status_code == 403
    assert "lacks the 'score' scope" in api.post("/v1/score", body, scope="read").json()["detail"]
    assert api.post("/v1/score", body, scope="admin").status_code == 200
    assert api.get("/v1/leads/S1", scope="score").status_code == 403
    assert api.post("/v1/models/reload", {}, scope="read").status_code == 403
    api.store.keys.revoke(api.store.keys.authenticate(api.keys["score"]).id)
    assert api.post("/v1/score", body).status_code == 401


def test_a_cached_key_is_still_scoped_and_revoked_at_once(
    api: Api, fresh: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"lead_id": "K1", "attributes": attributes(fresh.iloc[0])}
    assert api.get("/v1/leads", scope="read").status_code == 200  # the read key is cached
    assert api.post("/v1/score", body).status_code == 200  # and so is the score key
    lookups: list[str] = []
    real = KeyRepository.authenticate

    def counted(self: KeyRepository, plaintext: str | None, **kwargs: Any) -> Any:
        lookups.append(str(plaintext))
        return real(self, plaintext, **kwargs)

    monkeypatch.setattr(KeyRepository, "authenticate", counted)
    assert api.post("/v1/score", body).status_code == 200
    assert api.get("/v1/leads", scope="read").status_code == 200
    assert lookups == []  # both answered from the cache
    # from the cache or not, a key only opens what its scopes allow
    refused = api.post("/v1/score", body, scope="read")
    assert refused.status_code == 403 and "lacks the 'score' scope" in refused.json()["detail"]
    assert api.get("/v1/leads", scope="score").status_code == 403
    # a revoke through this process (the API's store or another) applies to the next request
    with Store(api.store.url, migrate=False) as other:
        other.keys.revoke(api.keys["score"])
    assert api.post("/v1/score", body).status_code == 401
    assert api.get("/v1/leads", scope="read").status_code == 200


def test_the_key_cache_can_be_turned_off(db_url: str, model_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(db_url, tmp_path, key_cache_s=0)
    store = Store(db_url)
    slot = ModelSlot.load(str(model_dir), settings)
    app = create_app(settings, store=store, slot=slot, deliver_webhooks=False)
    with TestClient(app) as client:
        plaintext, record = store.keys.create("crm", ["read"])
        headers = {"X-API-Key": plaintext}
        assert client.get("/v1/leads", headers=headers).status_code == 200
        assert store.keys.cached(plaintext, 3600) is None
        with store.engine.begin() as conn:  # revoked by another process, behind our back
            conn.exec_driver_sql(
                f"UPDATE api_keys SET revoked_at = created_at WHERE id = {int(record.id)}"
            )
        assert client.get("/v1/leads", headers=headers).status_code == 401
    store.close()


def test_a_score_is_the_same_with_the_key_cached_or_not(
    api: Api, db_url: str, model_dir: Path, tmp_path: Path, fresh: pd.DataFrame
) -> None:
    """POST /v1/score answers alike whether its key comes from the key cache or from the
    store: a body of the ScoreOut schema (the route returns it ready-made, so FastAPI does
    not check it), stored in history; bad bodies get a 422 naming the field, and the
    metrics count every answer under the route."""
    bodies = [{"lead_id": f"F{i}", "attributes": attributes(fresh.iloc[i])} for i in range(8)]
    api.post("/v1/score", bodies[0])  # verifies the key: from now on it is cached
    lookups: list[str] = []
    real = KeyRepository.authenticate

    def counted(self: KeyRepository, plaintext: str | None, **kwargs: Any) -> Any:
        lookups.append(str(plaintext))
        return real(self, plaintext, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(KeyRepository, "authenticate", counted)
        cached = [api.post("/v1/score", b) for b in bodies]
    assert lookups == []  # every key check was the cache's
    # the same requests to an app whose key cache is off: the store checks every key
    settings = make_settings(db_url, tmp_path, key_cache_s=0)
    with Store(db_url, migrate=False) as store:
        slot = ModelSlot.load(str(model_dir), settings)
        app = create_app(settings, store=store, slot=slot, deliver_webhooks=False)
        with TestClient(app) as client:
            checked = [
                client.post("/v1/score", json=b, headers={"X-API-Key": api.keys["admin"]})
                for b in bodies
            ]
    for ours, theirs in zip(cached, checked, strict=True):
        assert ours.status_code == theirs.status_code == 200
        assert ours.headers["content-type"] == theirs.headers["content-type"] == "application/json"
        a, b = ours.json(), theirs.json()
        assert set(a) == set(b) == set(ScoreOut.model_fields)
        ScoreOut.model_validate(a)
        for name in a:
            if name not in ("scored_at", "notifications"):
                assert a[name] == b[name], name
    history = api.store.scores.history("F3")
    assert history and history[0].score == cached[3].json()["score"]
    # bad bodies: the 422 names the field at fault, and nothing is stored
    bad = {"lead_id": "F9", "attributes": {**bodies[0]["attributes"], "visits": "many"}}
    refused = api.post("/v1/score", bad)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "attributes", "visits"]
    assert api.post("/v1/score", {"lead_id": "F9"}).json()["detail"][0]["loc"] == [
        "body", "attributes"
    ]  # fmt: skip
    headers = {"Authorization": f"Bearer {api.keys['score']}", "content-type": "application/json"}
    text = api.client.post("/v1/score", content=b"{not json", headers=headers)
    assert text.status_code == 422 and text.json()["detail"][0]["type"] == "json_invalid"
    assert api.store.leads.get("F9") is None
    assert api.post("/v1/score", bodies[0], scope="read").status_code == 403
    metrics = api.get("/metrics").text
    assert f'route="/v1/score",status="200"}} {1 + len(bodies)}.0' in metrics
    assert 'route="/v1/score",status="422"} 3.0' in metrics
    assert 'route="/v1/score",status="403"} 1.0' in metrics


def test_scoring_errors_are_answered_by_the_application_handlers(
    api: Api, fresh: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadscore.errors import SchemaError
    from leadscore.live import LiveScoring

    body = {"lead_id": "E1", "attributes": attributes(fresh.iloc[0])}
    assert api.post("/v1/score", body).status_code == 200  # the key is cached

    def unreadable(self: LiveScoring, lead_id: str, attributes: Any, display: Any = None) -> Any:
        raise SchemaError("created_at: 'soon' is not a date")

    monkeypatch.setattr(LiveScoring, "score_lead", unreadable)
    refused = api.post("/v1/score", {**body, "lead_id": "E2"})
    assert refused.status_code == 422
    assert refused.json() == {"detail": "created_at: 'soon' is not a date"}
    assert api.store.leads.get("E2") is None
    metrics = api.get("/metrics").text
    assert 'route="/v1/score",status="422"} 1.0' in metrics


@contextmanager
def write_lock(db_url: str) -> Iterator[None]:
    """The store's write lock, held by another connection as another process would:
    ``BEGIN IMMEDIATE`` on SQLite; on PostgreSQL, the leads and scores tables locked
    against writers."""
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    import psycopg

    with psycopg.connect(db_url) as pg:  # (the URL names the test's schema)
        pg.execute("LOCK TABLE leads, scores IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            pg.rollback()


def test_a_locked_store_never_holds_the_event_loop(
    api: Api, db_url: str, fresh: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A score waiting for the store's write lock (another process holds it) waits in a
    worker thread: the event loop answers /healthz meanwhile."""
    from leadscore.live import LiveScoring

    body = {"lead_id": "H1", "attributes": attributes(fresh.iloc[0])}
    assert api.post("/v1/score", body).status_code == 200  # the key is cached
    real = LiveScoring.score_lead
    entered = threading.Event()
    ran_on: list[str] = []

    def watched(self: LiveScoring, lead_id: str, attributes: Any, display: Any = None) -> Any:
        try:
            asyncio.get_running_loop()
            ran_on.append("the event loop")
        except RuntimeError:
            ran_on.append("a worker thread")
        entered.set()
        return real(self, lead_id, attributes, display)

    monkeypatch.setattr(LiveScoring, "score_lead", watched)
    answers: dict[str, Any] = {}

    def call(name: str, send: Any) -> threading.Thread:
        thread = threading.Thread(target=lambda: answers.__setitem__(name, send()))
        thread.start()
        return thread

    with write_lock(db_url):
        scoring = call("score", lambda: api.post("/v1/score", body))
        assert entered.wait(30), "the score request never reached the scorer"
        health = call("health", lambda: api.client.get("/healthz"))
        # generous: the loop answers in milliseconds; held by the lock, it would not
        # answer before the lock is released (SQLite's busy timeout is 30 s)
        health.join(10)
        answered_while_locked = not health.is_alive()
        still_waiting = scoring.is_alive()
    health.join(60)
    scoring.join(60)
    assert answered_while_locked, "/healthz waited for the store's lock"
    # SQLite: one attempt on the event loop that must not wait (it finds the lock held and
    # gives up at once), then the worker thread that may; PostgreSQL: the thread only
    expected = ["a worker thread"]
    if db_url.startswith("sqlite"):
        expected = ["the event loop", "a worker thread"]
    assert ran_on == expected
    assert answers["health"].status_code == 200
    assert still_waiting  # the score really waited for the lock ...
    assert answers["score"].status_code == 200  # ... and was stored once it was free
    assert len(api.store.scores.history("H1")) == 2


# ----------------------------------------------------------------------------- reads


def test_work_queue_and_lead_lookup(api: Api, fresh: pd.DataFrame) -> None:
    leads = [
        {"lead_id": f"Q{i}", "attributes": attributes(r)} for i, r in fresh.head(20).iterrows()
    ]
    api.post("/v1/score/batch", {"leads": leads})
    queue = api.get("/v1/leads", params={"limit": 50}).json()
    scores = [lead["score"] for lead in queue["leads"]]
    assert len(scores) == 20 and scores == sorted(scores, reverse=True)
    assert [lead["rank"] for lead in queue["leads"]] == list(range(1, 21))
    assert sum(queue["counts"].values()) == 20
    hot = api.get("/v1/leads", params={"segment": "hot"}).json()
    assert {lead["segment"] for lead in hot["leads"]} <= {"hot"}
    assert len(hot["leads"]) == queue["counts"]["hot"]
    page = api.get("/v1/leads", params={"limit": 5, "offset": 5}).json()
    assert [lead["lead_id"] for lead in page["leads"]] == [
        lead["lead_id"] for lead in queue["leads"][5:10]
    ]
    assert api.get("/v1/leads", params={"segment": "lukewarm"}).status_code == 422
    missing = api.get("/v1/leads/nobody")
    assert missing.status_code == 404
    assert "nobody" in missing.json()["detail"]


def test_outcomes(api: Api, fresh: pd.DataFrame) -> None:
    api.post("/v1/score", {"lead_id": "O1", "attributes": attributes(fresh.iloc[0])})
    when = "2026-03-01T10:00:00+01:00"
    done = api.post(
        "/v1/outcomes", {"lead_id": "O1", "converted": True, "occurred_at": when}, "ingest"
    )
    assert done.status_code == 200, done.text
    assert datetime.fromisoformat(done.json()["occurred_at"]) == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert api.get("/v1/leads/O1").json()["converted"] is True
    unknown = api.post("/v1/outcomes", {"lead_id": "ghost", "converted": False}, "ingest")
    assert unknown.status_code == 404
    naive = api.post(
        "/v1/outcomes", {"lead_id": "O1", "converted": True, "occurred_at": "2026-03-01"}, "ingest"
    )
    assert naive.status_code == 422
    assert naive.json()["detail"][0]["loc"] == ["body", "occurred_at"]


# ----------------------------------------------------------------------------- models, health


def test_models_and_reload_while_scoring(
    db_url: str, model_dir: Path, tmp_path: Path, fresh: pd.DataFrame
) -> None:
    # serve a copy of the model folder, and retrain-and-replace it between reloads
    served = tmp_path / "served"
    shutil.copytree(model_dir, served)
    store = Store(db_url)
    slot = ModelSlot.load(str(served), make_settings(db_url, tmp_path))
    app = create_app(
        make_settings(db_url, tmp_path), store=store, slot=slot, deliver_webhooks=False
    )
    with TestClient(app) as client:
        api = Api(client, store, LeadModel.load(served))
        info = api.get("/v1/models").json()
        assert info["serving"]["model"]
        # the LightGBM bag's scorer was saved with it, not compiled by the service
        assert info["serving"]["precompiled"] is True and info["serving"]["load_seconds"] > 0
        assert info["registry"] == [] and info["registry_error"] is None
        assert {f["name"] for f in info["serving"]["fields"]} == set(api.model.schema_.names)
        body = {"lead_id": "R1", "attributes": attributes(fresh.iloc[0])}
        failures: list[int] = []
        stop = threading.Event()

        def hammer() -> None:
            while not stop.is_set():
                status = api.post("/v1/score", body).status_code
                if status != 200:
                    failures.append(status)

        workers = [threading.Thread(target=hammer) for _ in range(3)]
        for w in workers:
            w.start()
        versions = [info["serving"]["version"]]
        for round_ in range(3):
            model = LeadModel.load(served)
            model.metadata_["trained_at"] = f"2026-11-2{round_}T00:00:00+00:00"  # a new model
            save_model(model, served)
            reloaded = api.post("/v1/models/reload", {}, scope="admin")
            assert reloaded.status_code == 200 and reloaded.json()["precompiled"] is True
            versions.append(reloaded.json()["version"])
        stop.set()
        for w in workers:
            w.join()
        assert failures == []
        assert len(set(versions)) == 4  # every reload swapped in the new model
        assert len(api.store.scores.history("R1", limit=1000)) > 0
    store.close()


def test_every_worker_follows_its_model_reference(
    db_url: str, model_dir: Path, tmp_path: Path, fresh: pd.DataFrame
) -> None:
    """Without a reload call, the watcher swaps in a replaced model (how a reload reaches
    all workers, and a promotion gets served); a broken one is not retried."""
    served = tmp_path / "served"
    shutil.copytree(model_dir, served)
    settings = make_settings(db_url, tmp_path, model_check_s=0.1)
    store = Store(db_url)
    slot = ModelSlot.load(str(served), settings)
    app = create_app(settings, store=store, slot=slot, deliver_webhooks=False)
    with TestClient(app) as client:
        api = Api(client, store, LeadModel.load(served))
        first = api.get("/v1/models").json()["serving"]
        model = LeadModel.load(served)
        model.metadata_["trained_at"] = "2026-11-23T00:00:00+00:00"
        save_model(model, served)
        for _ in range(100):
            now = api.get("/v1/models").json()["serving"]
            if now["version"] != first["version"]:
                break
            time.sleep(0.05)
        assert now["version"] != first["version"] and now["loaded_at"] > first["loaded_at"]
        metrics = api.get("/metrics").text
        assert f'leadscore_model_info{{version="{now["version"]}"}} 1.0' in metrics
        assert f'version="{first["version"]}"' not in metrics
        body = {"lead_id": "W1", "attributes": attributes(fresh.iloc[0])}
        assert api.post("/v1/score", body).json()["model_version"] == now["version"]
        # a broken artifact: the current model keeps serving, and it is tried only once
        from leadscore.live import slot as live_module

        loads: list[str] = []
        real = live_module.load_for_serving

        def counted(reference: str, settings: Settings) -> Any:
            loads.append(reference)
            return real(reference, settings)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(live_module, "load_for_serving", counted)
            (served / "model.joblib").write_bytes(b"not a model")
            meta = json.loads((served / "metadata.json").read_text())
            # replaced whole, as a deployment does (a half-written file is another name)
            (served / "metadata.json.new").write_text(json.dumps({**meta, "sha256": "0" * 64}))
            (served / "metadata.json.new").replace(served / "metadata.json")
            time.sleep(0.6)
        assert len(loads) == 1
        assert api.post("/v1/score", body).json()["model_version"] == now["version"]
    store.close()


def test_reloading_an_unchanged_model_keeps_it(api: Api) -> None:
    before = api.get("/v1/models").json()["serving"]
    again = api.post("/v1/models/reload", {}, scope="admin").json()
    assert again["version"] == before["version"]
    assert again["loaded_at"] == before["loaded_at"]  # not loaded a second time


def test_health_readiness_metrics_and_docs(api: Api, fresh: pd.DataFrame) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"
    api.post("/v1/score", {"lead_id": "M1", "attributes": attributes(fresh.iloc[0])})
    text = api.get("/metrics").text
    assert 'leadscore_requests_total{method="POST",route="/v1/score",status="200"} 1.0' in text
    assert "leadscore_scores_total{segment=" in text
    assert "leadscore_model_info{version=" in text
    docs = api.client.get("/openapi.json").json()
    # POST /v1/score checks its key in one dependency, and says so itself (KEY_SECURITY):
    # the document shows it as it shows every other route's key
    keyed = [{"HTTPBearer": []}, {"APIKeyHeader": []}]
    score, batch = docs["paths"]["/v1/score"]["post"], docs["paths"]["/v1/score/batch"]["post"]
    assert score["security"] == batch["security"] == keyed
    assert docs["paths"]["/v1/leads"]["get"]["security"] == keyed
    assert set(docs["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
    assert score["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LeadIn"
    }
    assert score["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ScoreOut"
    }
    inputs = docs["components"]["schemas"]["LeadAttributes"]
    assert set(inputs["required"]) == set(api.model.schema_.names)
    assert api.client.get("/docs").status_code == 200


def test_batch_scores_stored_by_the_cli_path_show_in_the_api(api: Api, fresh: pd.DataFrame) -> None:
    from leadscore.live.batch import score as batch_score

    scores = batch_score(api.model, fresh, store=api.store, model_version="batch-1")
    queue = api.get("/v1/leads", params={"limit": 100}).json()
    assert len(queue["leads"]) == len(fresh)
    assert queue["leads"][0]["lead_id"] == scores["lead_id"].iloc[0]  # best first, both ways
    lead = api.get(f"/v1/leads/{scores['lead_id'].iloc[0]}").json()
    assert lead["latest"]["model_version"] == "batch-1"
    assert lead["latest"]["reasons"] and lead["attributes"]["created_at"].startswith("20")


def test_out_of_range_paging_is_a_422_not_a_crash(api: Api) -> None:
    # found by the schemathesis run: 2**63 overflowed SQLite's integer
    response = api.get("/v1/leads", params={"offset": 2**63})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "offset"]
