"""The monitoring report (monitor/report.py) of a live store, and its faces: ``leadscore
monitor`` and ``GET /v1/monitoring/…`` give the same numbers for the same store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lead_rows import attributes
from leadscore.cli import app as cli
from leadscore.config import Business, Settings
from leadscore.demo import generate_leads
from leadscore.live import LiveScoring, ModelSlot
from leadscore.monitor.report import build_report
from leadscore.service.app import create_app
from leadscore.service.monitoring_schemas import DriftOut, MoversOut, ReportOut
from leadscore.store import Store

LEADS = 300


@pytest.fixture
def live(db_url: str, model_dir: Path) -> LiveScoring:
    settings = Settings(database_url=db_url, tracking=False)
    return LiveScoring(ModelSlot.load(str(model_dir), settings), Store(db_url), reasons=3)


def _score(live: LiveScoring, seed: int, stretch: float = 1.0) -> list[str]:
    # labelled like the training leads (fresh demo leads lack fields filled in later)
    table = generate_leads(LEADS, seed=seed).table
    table["time_on_site_s"] = table["time_on_site_s"] * stretch
    rows = [(f"S{seed}-{i}", attributes(row)) for i, row in table.iterrows()]
    live.score_leads(rows)
    return [lead_id for lead_id, _ in rows]


def test_a_period_of_live_scores_and_outcomes_reports_every_section(live: LiveScoring) -> None:
    ids = _score(live, seed=21)
    later = datetime.now(UTC) + timedelta(seconds=1)
    for i, lead_id in enumerate(ids[:200]):
        live.store.outcomes.add(lead_id, i % 4 == 0, occurred_at=later)
    report = build_report(live.store, live.slot.current.scorer, Business())
    assert (report.scores, report.leads) == (LEADS, LEADS)
    assert report.realised is not None and report.realised.n == 200
    assert report.realised.positives == 50
    assert int(report.bands["leads"].sum()) == 200
    assert report.estimated is not None and report.estimated.n == LEADS
    assert report.drift is not None and report.drift.alerts == ()  # the training population
    assert report.cohorts["leads"].sum() == LEADS
    assert report.movers == []  # each lead scored once: nothing moved
    row = report.over_time.iloc[0]
    assert row["n"] == LEADS and row["with_outcome"] == 200
    json.dumps(report.to_dict(), allow_nan=False)


def test_an_input_that_drifted_is_named_and_alerted(live: LiveScoring) -> None:
    _score(live, seed=22, stretch=6.0)
    report = build_report(live.store, live.slot.current.scorer, Business())
    assert report.drift is not None
    assert [f.feature for f in report.drift.alerts] == ["time_on_site_s"]
    assert any(a.startswith("drift: time_on_site_s") for a in report.alerts)


def test_the_score_drift_compares_only_the_served_versions_scores(live: LiveScoring) -> None:
    from leadscore.live.outbox import add_scores
    from leadscore.store import NewScore

    _score(live, seed=23)
    version = live.slot.current.version
    # leads last scored by an earlier model, all very high: another model's scale
    add_scores(live.store, [NewScore(f"OLD{i}", "old", 0.97, 97, "hot", True) for i in range(120)])
    mixed = build_report(live.store, live.slot.current.scorer, Business())
    served = build_report(live.store, live.slot.current.scorer, Business(), model_version=version)
    assert mixed.drift is not None and mixed.drift.score is not None
    assert served.drift is not None and served.drift.score is not None
    assert mixed.drift.score.status == "drift"  # the old model's scores read as drift
    assert served.drift.score.status == "stable"
    assert any(
        n.startswith("120 of the period's leads were last scored by another") for n in served.notes
    )
    only_old = build_report(
        live.store, live.slot.current.scorer, Business(), model_version="a version never stored"
    )
    assert only_old.drift is not None and only_old.drift.score is None


@pytest.fixture
def faces(db_url: str, model_dir: Path, tmp_path: Path) -> Iterator[tuple[TestClient, dict]]:
    settings = Settings(
        database_url=db_url, tracking=False, mlflow_uri=f"sqlite:///{tmp_path / 'm.db'}"
    )
    store = Store(db_url)
    slot = ModelSlot.load(str(model_dir), settings)
    key = store.keys.create("monitor", ["read"])[0]
    app = create_app(settings, store=store, slot=slot, deliver_webhooks=False)
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client, {"LEADSCORE_DATABASE_URL": db_url, "LEADSCORE_TRACKING": "false"}
    store.close()


def test_the_terminal_and_the_api_give_the_same_numbers(
    faces: tuple[TestClient, dict], live: LiveScoring, model_dir: Path
) -> None:
    client, env = faces
    ids = _score(live, seed=23)
    later = datetime.now(UTC) + timedelta(seconds=1)
    for i, lead_id in enumerate(ids[:120]):
        live.store.outcomes.add(lead_id, i % 3 == 0, occurred_at=later)
    end = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    api = client.get("/v1/monitoring/report", params={"until": end})
    assert api.status_code == 200, api.text
    run = CliRunner().invoke(
        cli, ["monitor", "report", "--model", str(model_dir), "--until", end, "--json"], env=env
    )
    assert run.exit_code == 0, run.output
    terminal = json.loads(run.output)
    answer = api.json()
    for key in ("scores", "leads", "alerts", "cohorts", "bands", "realised", "estimated"):
        assert terminal[key] == answer[key], key
    assert answer["realised"]["n"] == 120
    # read by a person in an 80-column terminal: the drift table's numbers stay whole
    from leadscore.cli import common

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(common.out, "width", 80)  # the console read COLUMNS when it was made
        narrow = CliRunner().invoke(
            cli, ["monitor", "report", "--model", str(model_dir), "--until", end], env=env
        )
    assert narrow.exit_code == 0, narrow.output
    rows = [line for line in narrow.output.splitlines() if line.startswith("│")]
    assert "Drift" in narrow.output and rows, narrow.output
    assert all(len(line) <= 80 and "…" not in line for line in rows), narrow.output
    movers = client.get("/v1/monitoring/movers", params={"until": end, "min_jump": 1})
    assert movers.status_code == 200 and movers.json()["movers"] == []
    drift = client.get("/v1/monitoring/drift", params={"until": end})
    assert drift.status_code == 200 and drift.json()["alerts"] == []
    # the answers are what the OpenAPI document says they are
    ReportOut.model_validate(answer)
    MoversOut.model_validate(movers.json())
    DriftOut.model_validate(drift.json())


def test_the_api_refuses_a_bad_period(faces: tuple[TestClient, dict]) -> None:
    client, _ = faces
    bad = client.get("/v1/monitoring/report", params={"since": "2026-05-02", "until": "2026-05-01"})
    assert bad.status_code == 422 and "start before it ends" in bad.text
    assert client.get("/v1/monitoring/movers", params={"min_jump": -1}).status_code == 422
