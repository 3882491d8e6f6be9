"""Honest champion/challenger (issue 20): the champion is judged only on leads it has not
seen, a promoted challenger is refitted before it serves, and a promotion says what moves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.config import Settings
from leadscore.demo import generate_leads
from leadscore.lifecycle.change_report import (
    TAG,
    compare_scores,
    read_change_report,
    store_report,
)
from leadscore.lifecycle.registry import CHAMPION, Registry
from leadscore.lifecycle.retrain import champion_cutoff, retrain
from leadscore.lifecycle.train import train
from leadscore.modeling.metrics import evaluate
from leadscore.modeling.model import LeadModel
from leadscore.store import NewScore, Store

START = pd.Timestamp("2026-01-05")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", tracking=True, cv_folds=3,
        tuning_budget="0", n_jobs=1,
    )  # fmt: skip


def _leads(
    rows: int, seed: int, start: str | pd.Timestamp = START, days: int = 150
) -> pd.DataFrame:
    table = generate_leads(rows, seed=seed, start=start, days=days).table
    table = table.drop(columns=["sales_status"])
    table["created_at"] = pd.to_datetime(table["created_at"])
    return table


def _auc(model: LeadModel, table: pd.DataFrame) -> float:
    y = (table["converted"] == "yes").astype(int).to_numpy()
    p = model.predict_proba(table.drop(columns=["converted"]))[:, 1]
    return evaluate(y, p, model.cutoffs_.contact, model.business_)["auc"]


def test_a_champion_that_saw_the_holdout_is_judged_on_unseen_leads(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The champion (extra trees, which remember their training leads) was trained on the
    leads that fill most of the file's last slice. Judged on that whole slice, as the old
    rule did, it looks far better than the challenger and would be kept; judged on the
    leads after its cutoff, the challenger wins, and fresh leads confirm it."""
    leads = _leads(6000, seed=21)
    day = (leads["created_at"] - START).dt.days
    seen = leads[(day >= 110) & (day < 135)]
    dictionary = tmp_path / "dictionary.csv"
    dictionary.write_text("Variable,Description,Label\nvisits,Sessions on the site,Visits\n")
    champion = train(seen, settings=settings, models=["extra_trees"], time="created_at",
                     id="lead_id", show_progress=False, dictionary=dictionary)  # fmt: skip
    worded = champion.metadata_["dictionary"]["fields"]
    assert "visits" in worded
    cutoff = pd.Timestamp(champion.metadata_["data_window"]["end"])
    assert cutoff == seen["created_at"].max()

    # open leads in the score store, scored by the champion; two of them have an outcome
    fresh = _leads(60, seed=99, start="2026-06-05", days=5)
    open_scores = champion.score_leads(fresh.drop(columns=["converted"]))
    store = Store(f"sqlite:///{tmp_path / 'scores.db'}")
    attributes = fresh.drop(columns=["converted", "lead_id"]).astype({"created_at": str})
    store.leads.upsert_many(dict(zip(fresh["lead_id"], attributes.to_dict("records"), strict=True)))
    with store.scores.scoring(list(fresh["lead_id"])) as writer:
        writer.add([NewScore(r.lead_id, "1", r.score, r.score_100, r.segment, r.contact)
                    for r in open_scores.itertuples()])  # fmt: skip
    for lead_id in fresh["lead_id"][:2]:
        store.outcomes.add(lead_id, True)

    decision = retrain(
        leads, settings=settings, window="90d", holdout="40d", metric="auc",
        models=["logreg_l2"], time="created_at", id="lead_id", store=store,
    )  # fmt: skip

    unseen = leads[leads["created_at"] > cutoff]
    assert decision.judging_window[0] == str(cutoff)
    assert decision.judged_leads == len(unseen)
    assert decision.judged_converted == int((unseen["converted"] == "yes").sum())
    assert "end of its training data" in decision.cutoff_source
    assert decision.promoted, decision.reason
    assert decision.challenger["auc"] > 1.01 * decision.champion["auc"]

    registry = Registry(settings)
    challenger = registry.load_model(decision.challenger_version)
    # the old rule: both judged on the whole holdout, the champion's own leads included
    holdout = leads[leads["created_at"] > pd.Timestamp(decision.holdout_window[0])]
    assert len(holdout) > 2 * len(unseen)
    assert _auc(champion, holdout) > 1.01 * _auc(challenger, holdout)  # kept, wrongly:
    later = _leads(4000, seed=22, start="2026-06-04", days=60)
    assert _auc(challenger, later) > _auc(champion, later) + 0.02  # …as new leads show

    # the challenger serves refitted on its window plus the holdout, as a version of its own
    assert decision.served_version == decision.challenger_version + 1
    assert registry.resolve(CHAMPION) == decision.served_version
    served = registry.load_model(CHAMPION)
    assert served.metadata_["model"] == "logreg_l2"
    # retrained without the file, both keep the champion's dictionary: reasons keep its words
    assert challenger.metadata_["dictionary"]["fields"] == worded
    assert served.metadata_["dictionary"]["fields"] == worded
    learnt_from = pd.Timestamp(decision.train_window[0])
    assert served.metadata_["rows"] == int((leads["created_at"] > learnt_from).sum())
    assert served.metadata_["rows"] > challenger.metadata_["rows"] + len(holdout) - 1
    tags = registry.describe(decision.served_version)["tags"]
    assert tags["leadscore.refit_of"] == str(decision.challenger_version)
    params = registry.client.get_run(decision.run_id).data.params
    assert params["served_version"] == str(decision.served_version)
    assert params["judged_leads"] == str(len(unseen))

    # the change report: the store's 58 open leads, their stored scores against the new model
    report = read_change_report(registry, decision.served_version)
    assert report is not None and report.to_dict() == decision.change_report
    assert report.source == "open leads" and report.leads == 58
    assert sum(sum(row.values()) for row in report.matrix.values()) == 58
    expected = store_report(served, store)
    assert report.matrix == expected.matrix and report.changed == expected.changed
    moves = [abs(m.move) for m in report.top]
    assert moves == sorted(moves, reverse=True) and moves[0] == abs(report.largest_move)
    assert set(fresh["lead_id"][:2]).isdisjoint(m.lead_id for m in report.top)
    assert tags[TAG] == report.summary()

    monkeypatch.setenv("LEADSCORE_MLFLOW_URI", settings.mlflow_uri or "")
    shown = CliRunner().invoke(app, ["models", "show", str(decision.served_version)])
    assert shown.exit_code == 0, shown.output
    assert "Change report" in shown.output and report.summary()[:40] in shown.output
    store.close()


def test_too_few_unseen_leads_keep_the_champion_and_say_so(settings: Settings) -> None:
    leads = _leads(3000, seed=23, days=100)
    cutoff = leads["created_at"].max() - pd.Timedelta(days=3)
    train(leads[leads["created_at"] <= cutoff], settings=settings, models=["logreg_l2"],
          time="created_at", show_progress=False)  # fmt: skip
    after = leads[leads["created_at"] > leads[leads["created_at"] <= cutoff]["created_at"].max()]
    converted = int((after["converted"] == "yes").sum())
    assert len(after) < 200
    decision = retrain(leads, settings=settings, window="60d", holdout="20d",
                       models=["logreg_l2"], time="created_at")  # fmt: skip
    assert not decision.promoted
    assert decision.reason.startswith("champion kept: too few leads")
    assert f"{len(after):,} leads ({converted:,} converted" in decision.reason
    assert "at least 200 leads and 20 of each outcome" in decision.reason
    assert decision.challenger_version is None and decision.served_version is None
    registry = Registry(settings)
    assert registry.resolve(CHAMPION) == 1 and [v.version for v in registry.versions()] == [1]
    assert registry.client.get_run(decision.run_id).data.tags["leadscore.verdict"] == (
        "kept champion"
    )

    looser = settings.model_copy(update={"retrain": settings.retrain.model_copy(
        update={"min_judging_leads": 50, "min_judging_outcomes": 5})})  # fmt: skip
    judged = retrain(leads, settings=looser, window="60d", holdout="20d",
                     models=["logreg_l2"], time="created_at")  # fmt: skip
    assert judged.judged_leads == len(after) and judged.challenger_version == 2
    assert judged.champion and judged.challenger  # both measured on the same few leads


def test_a_champion_without_a_data_window_is_judged_after_its_training_time(
    settings: Settings,
) -> None:
    leads = _leads(1500, seed=24, start="2023-01-02", days=60)
    train(leads, settings=settings, models=["logreg_l2"], show_progress=False)  # no --time
    decision = retrain(leads, settings=settings, window="30d", holdout="10d",
                       models=["logreg_l2"], time="created_at")  # fmt: skip
    assert not decision.promoted
    assert decision.cutoff_source == "its training time (it records no data window)"
    assert "its training time" in decision.reason and decision.judged_leads == 0

    model = LeadModel("logreg_l2", cv=3)
    model.metadata_ = {
        "time_window": {"start": "2026-01-05 00:00:00", "end": "2026-03-01 10:00:00"}
    }
    assert champion_cutoff(model) == (
        pd.Timestamp("2026-03-01 10:00"),
        "the end of its training data (time_window)",
    )
    model.metadata_ = {"data_window": {"start": "2026-01-05T00:00:00+01:00",
                                       "end": "2026-03-01T10:00:00+01:00"}}  # fmt: skip
    assert champion_cutoff(model)[0] == pd.Timestamp("2026-03-01 09:00")
    model.metadata_ = {}
    registered = pd.Timestamp("2026-04-01 12:00")
    assert champion_cutoff(model, registered) == (
        registered,
        "its registration time (it records no data window)",
    )


def test_the_change_report_counts_segment_moves() -> None:
    old = pd.DataFrame({"lead_id": ["a", "b", "c", "d", "e"],
                        "score": [80.0, 55.0, 12.0, 3.0, 40.0],
                        "segment": ["hot", "hot", "warm", "cold", "warm"]})  # fmt: skip
    new = pd.DataFrame({"lead_id": ["a", "b", "c", "d", "x"],
                        "score": [81.0, 30.0, 2.0, 45.0, 90.0],
                        "segment": ["hot", "warm", "cold", "warm", "hot"]})  # fmt: skip
    report = compare_scores(old, new, previous="champion v1", source="judging leads", top=2)
    assert report.leads == 4 and report.changed == 3  # "e" and "x" are in one scoring only
    frame = report.matrix_frame()
    assert frame.loc["was hot", "now hot"] == 1 and frame.loc["was hot", "now warm"] == 1
    assert frame.loc["was cold", "now warm"] == 1 and int(frame.to_numpy().sum()) == 4
    assert report.mean_move == pytest.approx(np.mean([1, -25, -10, 42]))
    assert report.largest_move == 42.0
    assert [(m.lead_id, m.old_segment, m.new_segment) for m in report.top] == [
        ("d", "cold", "warm"),
        ("b", "hot", "warm"),
    ]
    assert "hot→warm 1" in report.summary() and "cold→warm 1" in report.summary()
    assert report.top_frame()["move"].tolist() == [42.0, -25.0]
    assert type(report).from_dict(report.to_dict()) == report
    assert "d: 3 (cold) → 45 (warm), +42.0" in report.text()
