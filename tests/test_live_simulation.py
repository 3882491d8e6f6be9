"""A simulated stretch of days against the store (issue 21, "a demo that lives"): leads
arrive and are scored day by day, the team works the model's contacts plus the
exploration draw, outcomes come back only for contacted leads, one input drifts halfway,
a retraining puts a second model version on the scores — and every part of the
monitoring report then has content."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from leadscore import LeadModel
from leadscore.config import Settings
from leadscore.demo import write_demo_events
from leadscore.features.table import build_lead_table, save_lead_table
from leadscore.lifecycle.train import train
from leadscore.live.sim_retrain import refit_retrainer
from leadscore.live.sim_world import DRIFTED_FEATURE, simulated_world
from leadscore.live.simulation import DueOutcome, simulate_days
from leadscore.monitor.data import leads_frame, outcomes_frame, scores_frame
from leadscore.monitor.report import build_report
from leadscore.scoring.realtime.scorer import FastScorer
from leadscore.store import Store

TODAY = datetime(2026, 11, 30, tzinfo=UTC)  # a Monday: three whole weeks before it
DAYS, PER_DAY, DRIFT_DAY, RETRAIN_DAY = 21, 15, 10, 14
#: the small model contacts most leads: a larger exploration share leaves a few explored
SETTINGS = Settings(exploration={"share": 0.25})


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> LeadModel:
    """A small model on event features and CRM fields, as ``make demo`` trains one."""
    folder = tmp_path_factory.mktemp("simulation_model")
    paths = write_demo_events(folder / "demo", leads=1500, new_leads=5, messy=False)
    built = build_lead_table(str(paths["events"]), outcomes=paths["outcomes"], leads=paths["crm"])
    save_lead_table(built, folder / "leads.parquet")
    return train(
        folder / "leads.parquet", model="logreg_l2", models=["logreg_l2"], cv=3, track=False,
        show_progress=False, budget=0,
    )  # fmt: skip


@pytest.fixture(scope="module")
def simulated(model: LeadModel, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path_factory.mktemp('simulation') / 'store.db'}"
    store = Store(url)
    sent: list[DueOutcome] = []

    def sink(due: list[DueOutcome]) -> None:  # what the CLI sends through the API
        sent.extend(due)
        for item in due:
            store.outcomes.add(item.lead_id, item.converted, item.occurred_at,
                               contacted=item.contacted)  # fmt: skip

    days_done: list[int] = []
    summary = simulate_days(
        store, model, SETTINGS, version="1", days=DAYS, leads_per_day=PER_DAY, seed=5,
        drift_from_day=DRIFT_DAY, retrain_on_day=RETRAIN_DAY, retrainer=refit_retrainer(store),
        outcome_sink=sink, today=TODAY, progress=lambda done, _: days_done.append(done),
    )  # fmt: skip
    yield {"store": store, "summary": summary, "sent": sent, "days_done": days_done}
    store.close()


def test_leads_arrive_and_are_scored_day_by_day(simulated: dict[str, Any]) -> None:
    store, summary = simulated["store"], simulated["summary"]
    scores = scores_frame(store)
    start = TODAY - timedelta(days=DAYS)
    assert scores["scored_at"].min() >= pd.Timestamp(start)
    assert scores["scored_at"].max() < pd.Timestamp(TODAY)
    assert scores["scored_at"].dt.normalize().nunique() == DAYS  # a score every day
    assert summary.leads == leads_frame(store)["lead_id"].nunique() == scores["lead_id"].nunique()
    assert summary.leads > DAYS * PER_DAY * 0.7
    # leads come back: re-scored later from their new events
    per_lead = scores.groupby("lead_id")["scored_at"].nunique()
    assert (per_lead > 1).sum() > 30
    # each lead was created (cohorts!) on its simulated sign-up day, not today
    created = leads_frame(store)["created_at"]
    assert created.min() < pd.Timestamp(start + timedelta(days=2))
    assert created.dt.tz_convert(None).dt.to_period("W").nunique() >= 3
    assert simulated["days_done"] == list(range(1, DAYS + 1))


def test_outcomes_only_for_contacted_leads(simulated: dict[str, Any]) -> None:
    store, summary = simulated["store"], simulated["summary"]
    scores = scores_frame(store)
    contacted = set(scores.loc[scores["contact"], "lead_id"])
    explored = set(scores.loc[scores["explored"], "lead_id"])
    outcomes = outcomes_frame(store)
    assert 3 <= summary.explored <= len(explored)  # later scores may mark a contacted lead
    assert summary.contacted == len(contacted) < summary.leads
    assert len(outcomes) == summary.outcomes == len(simulated["sent"]) > 20
    assert set(outcomes["lead_id"]) <= contacted
    assert outcomes["contacted"].all()
    # each outcome comes at least a day after the lead's first contact, and in the past
    first_contact = scores.loc[scores["contact"]].groupby("lead_id")["scored_at"].min()
    lag = outcomes.set_index("lead_id")["occurred_at"] - first_contact.loc[outcomes["lead_id"]]
    assert (lag >= pd.Timedelta(days=1)).all()
    assert outcomes["occurred_at"].max() < pd.Timestamp(TODAY)
    assert 0 < summary.converted < summary.outcomes


def test_a_retraining_puts_a_second_model_version_on_the_scores(
    simulated: dict[str, Any],
) -> None:
    store, summary = simulated["store"], simulated["summary"]
    scores = scores_frame(store)
    switch = pd.Timestamp(TODAY - timedelta(days=DAYS - RETRAIN_DAY))
    assert set(scores.loc[scores["scored_at"] < switch, "model_version"]) == {"1"}
    after = set(scores.loc[scores["scored_at"] >= switch, "model_version"])
    assert after == {f"refit@{switch:%Y-%m-%d}"}
    assert summary.model_versions == ["1", f"refit@{switch:%Y-%m-%d}"]
    assert summary.retrain_day == RETRAIN_DAY and "refitted logreg_l2" in summary.retrain_decision


def test_the_monitoring_report_has_content(simulated: dict[str, Any], model: LeadModel) -> None:
    store = simulated["store"]
    start = TODAY - timedelta(days=DAYS)
    report = build_report(store, FastScorer(model), Settings().business, start=start, end=TODAY)
    assert len(report.cohorts) >= 3
    assert report.over_time["period"].nunique() >= 3
    assert (report.over_time["with_outcome"].fillna(0) > 0).sum() >= 2
    assert report.realised is not None and report.realised.n > 20
    # movers: the retraining's re-scores move leads by model version; behaviour moves others
    switch = TODAY - timedelta(days=DAYS - RETRAIN_DAY)
    around = build_report(store, FastScorer(model), Settings().business, start=switch,
                          end=switch + timedelta(days=1), min_jump=1)  # fmt: skip
    assert around.movers and any("model" in m.causes for m in around.movers)


def test_the_planted_drift_is_named_by_psi(simulated: dict[str, Any], model: LeadModel) -> None:
    store = simulated["store"]
    second_half = TODAY - timedelta(days=DAYS - DRIFT_DAY)
    report = build_report(store, FastScorer(model), Settings().business, start=second_half,
                          end=TODAY)  # fmt: skip
    assert report.drift is not None
    psi = {f.feature: f.psi for f in report.drift.features}
    assert psi[DRIFTED_FEATURE] > 0.25
    first_half = build_report(store, FastScorer(model), Settings().business,
                              start=TODAY - timedelta(days=DAYS), end=second_half)  # fmt: skip
    assert first_half.drift is not None
    before = {f.feature: f.psi for f in first_half.drift.features}
    assert before[DRIFTED_FEATURE] < 0.25


def test_the_world_shifts_the_source_mix_and_its_conversion() -> None:
    world = simulated_world(days=40, leads_per_day=40, seed=2, start="2026-03-02",
                            drift_from_day=20)  # fmt: skip
    assert world.source_share(0, 19) < 0.25 < 0.4 < world.source_share(20, 39)
    leads = world.leads
    facebook = leads.loc[leads["source"] == "facebook"]
    before = facebook.loc[facebook["arrival_day"] < 20, "converted"].mean()
    after = facebook.loc[facebook["arrival_day"] >= 20, "converted"].mean()
    assert after > before + 0.04  # the campaign's leads convert better
    assert (leads["outcome_at"] > leads["signup_at"]).all()
    same = simulated_world(days=40, leads_per_day=40, seed=2, start="2026-03-02",
                           drift_from_day=20)  # fmt: skip
    assert same.leads.equals(world.leads)
    calm = simulated_world(days=40, leads_per_day=40, seed=2, start="2026-03-02")
    assert calm.source_share(20, 39) < 0.25


def test_a_store_is_simulated_into_once(simulated: dict[str, Any], model: LeadModel) -> None:
    from leadscore.errors import LeadscoreError

    with pytest.raises(LeadscoreError, match="already holds simulated leads"):
        simulate_days(simulated["store"], model, SETTINGS, days=DAYS, leads_per_day=PER_DAY,
                      seed=5, drift_from_day=DRIFT_DAY, today=TODAY)  # fmt: skip


def test_leads_are_created_on_their_simulated_day_on_both_databases(
    db_url: str, model: LeadModel
) -> None:
    """The store stamps creation and attribute changes with the time of writing; the
    simulation sets them back to the sign-up, on SQLite and PostgreSQL alike."""
    with Store(db_url) as store:
        summary = simulate_days(store, model, SETTINGS, days=6, leads_per_day=8, seed=9,
                                drift_from_day=None, today=TODAY)  # fmt: skip
        created = leads_frame(store).set_index("lead_id")["created_at"]
        assert len(created) == summary.leads > 20
        assert created.max() < pd.Timestamp(TODAY)
        assert created.dt.normalize().nunique() >= 5
        lead = created.index[0]
        [(_, changed, attributes)] = store.leads.history([lead])
        assert pd.Timestamp(changed) == created[lead] and attributes.get("industry")
        # who the lead is comes with it (display fields the model never reads)
        assert attributes.get("name") and attributes.get("company")
        assert "name" not in model.crm_fields
