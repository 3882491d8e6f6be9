"""Exploration wired into scoring (issue 21): a share of the leads below the cut-off is
contacted on purpose; the API's answer, the work queue, the stored score and batch scoring
say so, with each lead's propensity; outcomes say whether the lead was contacted. On
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lead_rows import attributes
from leadscore.cli import app as cli
from leadscore.config import CapacitySettings, ExplorationSettings, Settings
from leadscore.demo import generate_leads
from leadscore.live import LiveScoring, ModelSlot
from leadscore.scoring.exploration import ExplorationPolicy, uniform_draws
from leadscore.service import create_app
from leadscore.store import NewScore, Store, StoreError, upgrade

LEADS = 60


@pytest.fixture(scope="module")
def fresh() -> pd.DataFrame:
    return generate_leads(LEADS, seed=31, labelled=False).table


def _rows(fresh: pd.DataFrame) -> list[tuple[str, dict[str, Any]]]:
    return [(f"X{i:02d}", attributes(row)) for i, (_, row) in enumerate(fresh.iterrows())]


@pytest.fixture
def client(db_url: str, model_dir: Path, tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    settings = Settings(
        database_url=db_url, tracking=False, mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        exploration=ExplorationSettings(share=0.5, seed="test"),
    )  # fmt: skip
    store = Store(db_url)
    key = store.keys.create("k", ["admin"])[0]
    slot = ModelSlot.load(str(model_dir), settings)
    with TestClient(create_app(settings, store=store, slot=slot, deliver_webhooks=False)) as c:
        yield c, key
    store.close()


def test_the_policy_draws_a_share_below_the_cut_off_and_the_same_lead_alike() -> None:
    policy = ExplorationPolicy(share=0.1, seed=4)
    ids = [f"L{i}" for i in range(5000)]
    below = [policy.decide(i, contact=False) for i in ids]
    share = sum(explored for _, explored, _ in below) / len(ids)
    assert 0.08 < share < 0.12
    assert all(contact == explored and chance == 0.1 for contact, explored, chance in below)
    assert policy.decide("L1", contact=False) == below[1]  # fixed per lead
    assert policy.decide("L1", contact=True) == (True, False, 1.0)
    # the batch and the single lead draw alike
    frame = pd.DataFrame({"lead_id": ids, "contact": False})
    assert policy.apply(frame, "lead_id")["explored"].tolist() == [e for _, e, _ in below]
    assert not ExplorationPolicy(share=0.0).decide("L1", contact=False)[1]
    with pytest.raises(ValueError, match="share must be a number between 0 and 1"):
        ExplorationPolicy(share=1.5)


def test_live_scores_store_the_exploration(
    db_url: str, model_dir: Path, fresh: pd.DataFrame
) -> None:
    settings = Settings(database_url=db_url, tracking=False)
    policy = ExplorationPolicy(share=0.5, seed="live")
    live = LiveScoring(ModelSlot.load(str(model_dir), settings), Store(db_url), exploration=policy)
    scored = live.score_leads(_rows(fresh))
    below = [s for s in scored if not s.result.contact]
    assert below and any(s.record.explored for s in below)
    draws = dict(
        zip(
            [s.lead_id for s in below],
            uniform_draws([s.lead_id for s in below], "live"),
            strict=True,
        )
    )
    for s in scored:
        stored = live.store.scores.latest(s.lead_id)
        assert stored is not None
        if s.result.contact:
            assert (stored.contact, stored.explored, stored.propensity) == (True, False, 1.0)
        else:
            explored = draws[s.lead_id] < 0.5
            assert (stored.contact, stored.explored, stored.propensity) == (explored, explored, 0.5)
    # re-scoring keeps the draw: an explored lead stays explored
    again = live.score_leads(_rows(fresh))
    assert [s.record.explored for s in again] == [s.record.explored for s in scored]


def test_the_api_answer_and_the_work_queue_show_explored_leads(
    client: tuple[TestClient, str], fresh: pd.DataFrame
) -> None:
    c, key = client
    headers = {"X-API-Key": key}
    body = {"leads": [{"lead_id": i, "attributes": a} for i, a in _rows(fresh)]}
    answer = c.post("/v1/score/batch", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    scores = answer.json()["scores"]
    explored = [s for s in scores if s["explored"]]
    assert explored and all(s["contact"] and s["propensity"] == 0.5 for s in explored)
    assert all(s["propensity"] == 1.0 for s in scores if s["contact"] and not s["explored"])
    queue = c.get("/v1/leads", params={"limit": 100}, headers=headers).json()["leads"]
    assert {q["lead_id"] for q in queue if q["explored"]} == {s["lead_id"] for s in explored}
    lead = c.get(f"/v1/leads/{explored[0]['lead_id']}", headers=headers).json()
    assert lead["latest"]["explored"] is True

    outcome = {"lead_id": explored[0]["lead_id"], "converted": True, "contacted": True}
    recorded = c.post("/v1/outcomes", json=outcome, headers=headers)
    assert recorded.status_code == 200 and recorded.json()["contacted"] is True
    bad = c.post("/v1/outcomes", json={**outcome, "contacted": "maybe"}, headers=headers)
    assert bad.status_code == 422 and "contacted" in bad.text


def test_explored_leads_come_on_top_of_a_capacity(
    db_url: str, model_dir: Path, tmp_path: Path, fresh: pd.DataFrame
) -> None:
    settings = Settings(
        database_url=db_url, tracking=False, mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        exploration=ExplorationSettings(share=1.0), capacity=CapacitySettings(per_period=100),
    )  # fmt: skip
    store = Store(db_url)
    key = store.keys.create("k", ["admin"])[0]
    slot = ModelSlot.load(str(model_dir), settings)
    app = create_app(settings, store=store, slot=slot, deliver_webhooks=False)
    with TestClient(app) as c:
        headers = {"X-API-Key": key}
        body = {"leads": [{"lead_id": i, "attributes": a} for i, a in _rows(fresh)]}
        scores = c.post("/v1/score/batch", json=body, headers=headers).json()["scores"]
        queue = c.get("/v1/leads", params={"limit": 100}, headers=headers).json()
    store.close()
    explored = [s for s in scores if s["explored"]]
    assert explored and all(s["contact"] for s in explored)  # every one below: share 1
    # room for every lead: the quota's slots go to the model's own contacts only
    model_contacts = {s["lead_id"] for s in scores if s["contact"] and not s["explored"]}
    assert 0 < len(model_contacts) < len(scores)
    assert queue["capacity"]["used"] == len(model_contacts)
    slots = {q["lead_id"] for q in queue["leads"] if q["within_capacity"]}
    assert slots == model_contacts
    assert all(q["contact"] for q in queue["leads"] if q["explored"])


def test_batch_scoring_writes_the_exploration_columns(
    model_dir: Path, fresh: pd.DataFrame, tmp_path: Path, db_url: str
) -> None:
    leads = tmp_path / "leads.csv"
    fresh.assign(lead_id=[f"B{i}" for i in range(len(fresh))]).to_csv(leads, index=False)
    config = tmp_path / "leadscore.toml"
    config.write_text('[exploration]\nshare = 0.5\nseed = "batch"\n')
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(
        cli,
        ["score", str(model_dir), str(leads), "--out", str(out), "--config", str(config),
         "--database", db_url],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out)
    assert {"explored", "propensity"} <= set(scores.columns)
    below = scores[scores["propensity"] < 1]
    assert below["explored"].any() and (below["propensity"] == 0.5).all()
    assert (scores.loc[scores["explored"], "contact"]).all()
    assert "of them by exploration)" in result.output
    assert "drawn at random for a contact (50% of them" in result.output
    with Store(db_url) as store:
        chosen = scores.loc[scores["explored"], "lead_id"].astype(str).iloc[0]
        stored = store.scores.latest(chosen)
        assert stored is not None and stored.explored and stored.propensity == 0.5


def test_an_explored_score_must_be_a_contact(db_url: str) -> None:
    with Store(db_url) as store:
        refused = pytest.raises(StoreError, match="explored, so its contact must be true")
        with refused, store.scores.scoring(["L1"]) as writer:
            writer.add([NewScore("L1", "1", 0.1, 10, "cold", False, explored=True,
                                     propensity=0.05)])  # fmt: skip
        refused = pytest.raises(StoreError, match="propensity of lead 'L1' must be within 0–1")
        with refused, store.scores.scoring(["L1"]) as writer:
            writer.add([NewScore("L1", "1", 0.1, 10, "cold", False, propensity=2.0)])


def test_scores_stored_before_exploration_read_as_not_explored(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    from leadscore.store.db import MIGRATIONS_DIR

    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "0004")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO leads (id, attributes, created_at, updated_at) "
                          "VALUES ('L1', '{}', '2026-01-01', '2026-01-01')"))  # fmt: skip
        conn.execute(text("INSERT INTO scores (lead_id, model_version, score, score_100, "
                          "segment, contact, reasons, scored_at) VALUES ('L1', '1', 0.2, 20, "
                          "'cold', 0, NULL, '2026-01-02')"))  # fmt: skip
    engine.dispose()
    upgrade(url)
    with Store(url) as store:
        (record,) = store.scores.history("L1")
        assert (record.explored, record.propensity) == (False, None)
