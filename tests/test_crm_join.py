"""One lead, all its data: CRM fields joined onto behaviour features (issue 20)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli import app as cli
from leadscore.errors import SchemaError
from leadscore.features.crm import read_crm
from leadscore.features.table import build_lead_table, save_lead_table


def _event(lead: str, when: str, name: str = "page_view", **extra: object) -> dict[str, object]:
    return {"lead_id": lead, "timestamp": when, "event": name,
            "url": "https://example.com/pricing", **extra}  # fmt: skip


@pytest.fixture
def events(tmp_path: Path) -> Path:
    rows = [
        _event("a", "2026-01-02T10:00:00Z"), _event("a", "2026-01-03T10:00:00Z"),
        _event("b", "2026-01-04T09:00:00Z"), _event("c", "2026-01-05T11:00:00Z"),
        _event("d", "2026-01-06T12:00:00Z"),
    ]  # fmt: skip
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.fixture
def outcomes(tmp_path: Path) -> Path:
    path = tmp_path / "outcomes.csv"
    pd.DataFrame(
        {
            "lead_id": ["a", "b", "c", "e"],
            "converted": ["yes", "no", "yes", "no"],
            "outcome_at": ["2026-02-01", "2026-02-01", "2026-01-20", "2026-02-01"],
        }
    ).to_csv(path, index=False)
    return path


@pytest.fixture
def crm(tmp_path: Path) -> Path:
    """A change history: lead a changed industry after its outcome; c's only row is from
    after its outcome; e has CRM fields but no events; d has events but no CRM row."""
    path = tmp_path / "crm.csv"
    pd.DataFrame(
        {
            "lead_id": ["a", "a", "b", "c", "e"],
            "industry": ["Retail", "Software", "Bank", "Telecom", "Retail"],
            "company_size": [10, 500, 50, 5, 20],
            "country": ["DE", "DE", "US", "FR", "GB"],  # also a behaviour feature's name
            "updated_at": ["2026-01-01", "2026-03-01", "2026-01-05", "2026-01-25", "2026-01-02"],
        }
    ).to_csv(path, index=False)
    return path


def test_training_takes_each_leads_fields_as_of_its_outcome(
    events: Path, outcomes: Path, crm: Path
) -> None:
    result = build_lead_table(str(events), outcomes=outcomes, leads=crm)
    table = result.table.set_index("lead_id")
    assert result.crm_fields == ["industry", "company_size", "crm_country"]
    assert result.crm_dated
    # a's industry changed to Software after its outcome: the model sees Retail
    assert table.loc["a", "industry"] == "Retail"
    assert table.loc["a", "company_size"] == 10
    assert table.loc["b", "industry"] == "Bank"
    # c's only CRM row was written after its outcome: no fields (not the later values)
    assert pd.isna(table.loc["c", "industry"])
    # e has CRM fields but no events: kept, behaviour missing
    assert table.loc["e", "industry"] == "Retail"
    assert pd.isna(table.loc["e", "events"])
    assert list(result.table.columns)[-1] == "converted"
    assert "country" in table.columns  # the behaviour feature keeps its name
    joined = " ".join(result.notes)
    assert "1 leads' CRM rows are all later than their cutoff" in joined
    assert "renamed: country → crm_country" in joined


def test_scoring_keeps_crm_only_leads_and_event_only_leads(events: Path, crm: Path) -> None:
    fitted = build_lead_table(str(events), outcomes=None, leads=crm)
    table = fitted.table.set_index("lead_id")
    assert set(table.index) == {"a", "b", "c", "d", "e"}
    assert pd.isna(table.loc["d", "industry"])  # events, no CRM row
    assert pd.isna(table.loc["e", "events"])  # CRM row, no events
    assert table.loc["a", "industry"] == "Software"  # latest version when scoring now
    assert "1 leads have no CRM row" in " ".join(fitted.notes)
    early = build_lead_table(str(events), builder=fitted.builder, leads=crm, as_of="2026-02-01")
    assert early.table.set_index("lead_id").loc["a", "industry"] == "Retail"


def test_the_crm_export_holding_the_outcomes_is_never_a_feature(
    events: Path, tmp_path: Path
) -> None:
    export = tmp_path / "export.csv"
    pd.DataFrame(
        {"Lead ID": ["a", "b", "c"], "Industry": ["Retail", "Bank", "Telecom"],
         "Converted": [1, 0, 1], "closed_at": ["2026-02-01", "2026-02-01", "2026-02-01"]}
    ).to_csv(export, index=False)  # fmt: skip
    table = read_crm(export, id_column="Lead ID")
    assert table.fields == ["Industry"]
    assert table.time_column is None
    result = build_lead_table(str(events), outcomes=export, leads=table)
    assert result.crm_fields == ["Industry"] and not result.crm_dated


def test_repeated_leads_without_a_time_column_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    pd.DataFrame({"lead_id": ["a", "a"], "industry": ["x", "y"]}).to_csv(path, index=False)
    with pytest.raises(SchemaError, match=r"more than once.*--leads-time"):
        read_crm(path)
    with pytest.raises(SchemaError, match="lead id column"):
        read_crm(pd.DataFrame({"name": ["a"], "industry": ["x"]}))


def test_cli_joins_and_records_where_each_field_comes_from(
    events: Path, outcomes: Path, crm: Path, tmp_path: Path
) -> None:
    out = tmp_path / "leads.parquet"
    ran = CliRunner().invoke(
        cli,
        ["features", str(events), "--labels", str(outcomes), "--leads", str(crm),
         "--out", str(out)],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert "CRM fields joined (as of each lead's cutoff): industry, company_size" in ran.output
    described = json.loads(out.with_name("leads.features.json").read_text())
    assert described["sources"]["crm"] == ["industry", "company_size", "crm_country"]
    assert "events" in described["sources"]["events"]
    assert "industry" in described["point_in_time"]  # dated: trusted as point in time
    plain = tmp_path / "plain.parquet"
    ran = CliRunner().invoke(
        cli,
        ["features", str(events), "--labels", str(outcomes), "--leads", str(crm),
         "--leads-time", "none", "--out", str(plain)],
    )  # fmt: skip
    assert ran.exit_code != 0
    assert "more than once" in ran.output


def test_save_lead_table_without_crm_has_empty_crm_source(events: Path, tmp_path: Path) -> None:
    result = build_lead_table(str(events))
    save_lead_table(result, tmp_path / "t.parquet")
    described = json.loads((tmp_path / "t.features.json").read_text())
    assert described["sources"]["crm"] == []


def test_a_model_trained_with_crm_fields_scores_events_plus_the_crm_table(
    tmp_path: Path,
) -> None:
    from leadscore import LeadModel
    from leadscore.demo import write_demo_events
    from leadscore.lifecycle.train import train

    paths = write_demo_events(tmp_path / "demo", leads=400, new_leads=60, messy=False)
    truth = pd.read_csv(paths["truth"])
    rng = np.random.default_rng(0)
    crm = pd.DataFrame(
        {
            "lead_id": truth["lead_id"].astype(str),
            "industry": rng.choice(["Retail", "Software", "Bank"], len(truth)),
            "employees": rng.integers(1, 5000, len(truth)),
        }
    )
    crm_path = tmp_path / "crm.csv"
    crm.to_csv(crm_path, index=False)
    table_path = tmp_path / "leads.parquet"
    result = build_lead_table(str(paths["events"]), outcomes=paths["outcomes"], leads=crm_path)
    save_lead_table(result, table_path)
    model = train(
        table_path, model="logreg_l2", models=["logreg_l2"], cv=3, track=False,
        show_progress=False, budget=0, out=tmp_path / "model",
    )  # fmt: skip
    assert model.crm_fields == ["industry", "employees"]
    assert "industry" not in model.metadata_["field_sources"]["events"]
    loaded = LeadModel.load(tmp_path / "model")
    assert loaded.crm_fields == ["industry", "employees"]
    # scoring: events + the CRM table give the table the model would have been given
    from leadscore.data.events import load_events

    events = load_events(paths["new_events"]).events
    features = loaded.event_features(events, as_of="2026-06-01", leads=crm_path)
    expected = build_lead_table(
        str(paths["new_events"]), builder=loaded.feature_builder_, leads=crm_path,
        as_of="2026-06-01",
    ).table  # fmt: skip
    pd.testing.assert_frame_equal(features, expected)
    assert features["industry"].notna().all()
    # the CLI path
    store_url = f"sqlite:///{tmp_path / 'scores.db'}"
    ran = CliRunner().invoke(
        cli,
        ["score", str(tmp_path / "model"), str(paths["new_events"]), "--events",
         "--leads", str(crm_path), "--as-of", "2026-06-01", "--out", str(tmp_path / "s.csv"),
         "--database", store_url],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    from leadscore.store import Store

    with Store(store_url) as store:  # the CRM fields are the leads' attributes, not features
        stored = store.leads.get(str(features["lead_id"].iloc[0]))
        assert stored is not None and set(stored.attributes) == {"industry", "employees"}
        # scored from events: the lead's events are stored with its score (the lead page
        # and a later event's re-score read them)
        first = str(features["lead_id"].iloc[0])
        assert len(store.events.for_lead(first)) == int((events["lead_id"] == first).sum()) > 0
    scored = pd.read_csv(tmp_path / "s.csv")
    direct = loaded.score_leads(expected)
    assert np.allclose(
        scored.set_index("lead_id")["score"].sort_index(),
        direct.set_index("lead_id")["score"].astype(float).sort_index(),
    )
