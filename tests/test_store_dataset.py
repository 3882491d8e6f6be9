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


# ------------------------------------------------------------------ propensity weights


def _pandas_weights(store: Store, labels: pd.DataFrame) -> pd.Series:
    """The weights as they were computed before the database found the scores: every
    stored score read, each label's last one at or before its outcome by ``merge_asof``."""
    columns = ["lead_id", "score", "score_100", "segment", "contact", "scored_at",
               "model_version", "explored", "propensity"]  # fmt: skip
    scores = pd.DataFrame([tuple(r) for r in store.scores.rows()], columns=columns)
    scores["scored_at"] = pd.to_datetime(scores["scored_at"], utc=True).dt.tz_localize(None)
    scores["scored_at"] = scores["scored_at"].astype("datetime64[ns]")
    left = labels[["lead_id", "outcome_at"]].astype({"outcome_at": "datetime64[ns]"})
    last = pd.merge_asof(
        left.sort_values("outcome_at"),
        scores[["lead_id", "scored_at", "contact", "explored", "propensity"]].sort_values(
            "scored_at", kind="stable"
        ),
        left_on="outcome_at", right_on="scored_at", by="lead_id", direction="backward",
    )  # fmt: skip
    chance = pd.to_numeric(last["propensity"], errors="coerce").to_numpy(dtype=float)
    contact = last["scored_at"].notna().to_numpy() & last["contact"].fillna(False).astype(bool)
    weighted = contact.to_numpy() & (chance > 0)
    weights = np.ones(len(last))
    weights[weighted] = 1.0 / chance[weighted]
    return pd.Series(weights, index=last["lead_id"].to_numpy())


def test_propensity_weights_read_one_score_per_lead_and_weigh_as_before(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadscore.lifecycle.store_dataset import propensity_weights
    from leadscore.store import NewScore
    from leadscore.store.scores import ScoreRepository

    t0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    hour = pd.Timedelta(hours=1).to_pytimedelta()

    def score(lead: str, at: datetime, contact: bool, explored: bool, chance: float | None) -> None:
        with store.scores.scoring([lead]) as writer:
            writer.add([NewScore(lead, "1", 0.4, 40, "warm", contact, scored_at=at,
                                 explored=explored, propensity=chance)])  # fmt: skip

    with Store(db_url) as store:
        score("EXPLORED", t0, True, True, 0.05)
        score("EXPLORED", t0 + 3 * hour, False, False, 0.95)  # after its outcome
        score("AT", t0, False, False, 0.95)
        score("AT", t0 + hour, True, True, 0.1)  # at the outcome's instant: it counts
        score("TIE", t0, False, False, 0.9)
        score("TIE", t0, True, True, 0.25)  # stored later at the same instant: it counts
        score("OLD", t0, True, False, None)  # scored before exploration
        score("NOCHANCE", t0, False, False, 0.9)
        score("ZERO", t0, True, False, 0.0)
        score("OWN", t0, True, False, 1.0)
        score("LATE", t0 + 5 * hour, True, True, 0.05)  # only after its outcome
        for lead in ("EXPLORED", "AT", "TIE", "OLD", "NOCHANCE", "ZERO", "OWN", "LATE", "NEVER"):
            store.outcomes.add(lead, True, t0 + hour)
        outcomes = store.outcomes.all()
        labels = pd.DataFrame(
            {"lead_id": [o.lead_id for o in outcomes],
             "outcome_at": [o.occurred_at.replace(tzinfo=None) for o in outcomes]}
        )  # fmt: skip
        expected = _pandas_weights(store, labels)

        def every_score(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("propensity_weights read every stored score")

        monkeypatch.setattr(ScoreRepository, "rows", every_score)
        weights, notes = propensity_weights(store, labels)
    assert weights.sort_index().to_dict() == expected.sort_index().to_dict()
    assert weights.to_dict() == {
        "EXPLORED": 20.0, "AT": 10.0, "TIE": 4.0, "OLD": 1.0, "NOCHANCE": 1.0, "ZERO": 1.0,
        "OWN": 1.0, "LATE": 1.0, "NEVER": 1.0,
    }  # fmt: skip
    assert list(weights.index) == labels["lead_id"].tolist()
    assert notes[0].startswith(
        "weighted by 1 / propensity: 3 of 9 leads with outcomes were explored"
    )
    assert any(n.startswith("2 leads with an outcome had no chance") for n in notes)
    assert any(n.startswith("2 leads with an outcome have no score before it") for n in notes)
    assert any(n.startswith("1 contacted leads were scored before exploration") for n in notes)


def test_propensity_weights_refuse_labels_they_cannot_place(tmp_path: Path) -> None:
    from leadscore.lifecycle.store_dataset import propensity_weights

    with Store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        twice = pd.DataFrame({"lead_id": ["L1", "L1"], "outcome_at": [datetime(2026, 3, 2)] * 2})
        with pytest.raises(DataError, match=r"more than once, e\.g\. \['L1'\]"):
            propensity_weights(store, twice)
        undated = pd.DataFrame(
            {"lead_id": ["L1", "L2"], "outcome_at": [datetime(2026, 3, 2), None]}
        )
        with pytest.raises(DataError, match="outcome_at is missing for 1 leads"):
            propensity_weights(store, undated)
