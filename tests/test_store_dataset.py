"""The score store as the training source: ``leadscore dataset --from-store`` equals the
file path's table for the same leads, events, fields and outcome times (issue 20)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli import app as cli
from leadscore.data.events import load_events
from leadscore.demo import write_demo_events
from leadscore.errors import DataError
from leadscore.features.table import build_lead_table
from leadscore.lifecycle.store_dataset import store_dataset
from leadscore.store import Store


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("demo")
    paths = write_demo_events(folder, leads=150, new_leads=5, messy=False)
    outcomes = pd.read_csv(paths["outcomes"])
    rng = np.random.default_rng(1)
    ids = outcomes["lead_id"].astype(str)
    start = pd.to_datetime(outcomes["outcome_at"], utc=True).dt.tz_localize(None)
    # two states per lead: one a day before its outcome, a change two days after it
    crm = pd.concat(
        [
            pd.DataFrame({"lead_id": ids, "industry": rng.choice(["Retail", "Bank"], len(ids)),
                          "employees": rng.integers(1, 900, len(ids)),
                          "updated_at": start - pd.Timedelta(days=1)}),
            pd.DataFrame({"lead_id": ids, "industry": "Changed later", "employees": 1,
                          "updated_at": start + pd.Timedelta(days=2)}),
        ]
    )  # fmt: skip
    paths["crm"] = folder / "crm.csv"
    crm.to_csv(paths["crm"], index=False)
    return paths


def _fill(store: Store, demo: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """What production would have written: events, attributes as they changed, outcomes."""
    import leadscore.store.leads as leads_module

    events = load_events(demo["events"]).events
    for lead_id, rows in events.groupby("lead_id", observed=True):
        posted = []
        for row in rows.to_dict("records"):
            item: dict[str, Any] = {k: v for k, v in row.items() if not _missing(v)}
            item["time"] = item.pop("timestamp").tz_localize(UTC).isoformat()
            item.pop("lead_id")
            posted.append(item)
        store.events.add(str(lead_id), posted)
    crm = pd.read_csv(demo["crm"], parse_dates=["updated_at"]).sort_values("updated_at")
    for row in crm.itertuples(index=False):
        when = row.updated_at.to_pydatetime().replace(tzinfo=UTC)
        monkeypatch.setattr(leads_module, "utcnow", lambda when=when: when)
        store.leads.upsert(str(row.lead_id), {"industry": row.industry,
                                               "employees": int(row.employees)})  # fmt: skip
    monkeypatch.undo()
    outcomes = pd.read_csv(demo["outcomes"])
    for row in outcomes.itertuples(index=False):
        when = datetime.fromisoformat(str(row.outcome_at).replace("Z", "+00:00"))
        store.outcomes.add(str(row.lead_id), row.converted == "yes", when)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT


def test_the_store_gives_the_table_the_files_give(
    demo: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with Store(url) as store:
        _fill(store, demo, monkeypatch)
        built = store_dataset(store)
    files = build_lead_table(str(demo["events"]), outcomes=demo["outcomes"], leads=demo["crm"])
    expected = files.table.sort_values("lead_id").reset_index(drop=True)
    got = built.table.sort_values("lead_id").reset_index(drop=True)
    assert list(got.columns) == list(expected.columns)
    assert built.fields == ["industry", "employees"]
    # every lead's fields as before its outcome, never the change two days after
    assert not (got["industry"] == "Changed later").any()
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    # the CLI writes it with the description train reads
    out = tmp_path / "from_store.parquet"
    ran = CliRunner().invoke(cli, ["dataset", "--from-store", "--database", url, "--out", str(out)])
    assert ran.exit_code == 0, ran.output
    assert "150 leads with outcomes" in ran.output
    assert out.with_name("from_store.features.json").is_file()
    later = CliRunner().invoke(
        cli,
        ["dataset", "--from-store", "--database", url, "--out", str(out), "--since", "2030-01-01"],
    )
    assert later.exit_code != 0 and "no recorded outcomes since 2030-01-01" in later.output


def test_attributes_alone_make_a_lead_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import leadscore.store.leads as leads_module

    with Store(f"sqlite:///{tmp_path / 's.db'}") as store:
        with pytest.raises(DataError, match="no recorded outcomes"):
            store_dataset(store)
        for day, size in ((1, 10), (20, 99)):
            when = datetime(2026, 1, day, tzinfo=UTC)
            monkeypatch.setattr(leads_module, "utcnow", lambda when=when: when)
            store.leads.upsert("A1", {"size": size, "source": "google"})
        monkeypatch.undo()
        store.outcomes.add("A1", True, datetime(2026, 1, 10, tzinfo=UTC))
        built = store_dataset(store)
    assert built.builder is None
    assert built.table.to_dict("records") == [
        {"lead_id": "A1", "size": 10, "source": "google", "converted": "yes"}
    ]


def test_retrain_from_the_store(
    demo: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``leadscore retrain --from-store`` trains on what production recorded: the first
    run makes the first champion; it carries the store's feature builder, so it scores
    raw events and the CRM fields come from the leads' attributes."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with Store(url) as store:
        _fill(store, demo, monkeypatch)
    monkeypatch.setenv("LEADSCORE_MLFLOW_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("LEADSCORE_TRACKING", "true")
    ran = CliRunner().invoke(
        cli,
        ["retrain", "--from-store", "--database", url, "--window", "60d", "--holdout", "20d",
         "--metric", "auc", "--quiet"],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert "from the score store: 150 leads with outcomes" in ran.output
    assert "there was no champion" in ran.output
    from leadscore.config import Settings
    from leadscore.lifecycle.registry import CHAMPION, load_lead_model

    champion = load_lead_model(CHAMPION, Settings())
    assert champion.feature_builder_ is not None
    assert champion.crm_fields == [f for f in ("industry", "employees")
                                   if f in champion.schema_.names]  # fmt: skip
    # the next run reads the store with the champion's own feature builder, so the
    # champion can be judged beside its challenger (not "cannot score the current data")
    again = CliRunner().invoke(
        cli,
        ["retrain", "--from-store", "--database", url, "--window", "60d", "--holdout", "20d",
         "--metric", "auc", "--quiet"],
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "cannot score" not in again.output
    neither = CliRunner().invoke(cli, ["retrain", "--database", url])
    assert neither.exit_code != 0 and "--from-store" in neither.output
