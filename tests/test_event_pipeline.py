"""End to end on the event-level demo: point-in-time correctness and planted effects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from leadscore.data.events import load_events
from leadscore.demo import DemoEvents, generate_events
from leadscore.features.build import LeadFeatureBuilder
from leadscore.features.labels import cutoffs_for
from leadscore.features.table import build_lead_table
from leadscore.modeling.model import LeadModel


@pytest.fixture(scope="module")
def demo() -> DemoEvents:
    return generate_events(6000, seed=17)


def _outcomes(demo: DemoEvents) -> pd.DataFrame:
    out = demo.outcomes.copy()
    out["lead_id"] = out["lead_id"].astype(str)
    out["converted"] = (out["converted"] == "yes").astype(int)
    out["outcome_at"] = pd.to_datetime(out["outcome_at"]).dt.tz_localize(None)
    return out


def _events(demo: DemoEvents, tmp_path: Path) -> pd.DataFrame:
    path = tmp_path / "events.parquet"
    frame = demo.events.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype("str")
    frame.to_parquet(path)
    return load_events(path).events


def test_post_outcome_events_never_reach_training_features(
    demo: DemoEvents, tmp_path: Path
) -> None:
    events = _events(demo, tmp_path)
    outcomes = _outcomes(demo)
    builder = LeadFeatureBuilder()
    features = builder.fit_transform(events, cutoffs_for(outcomes))
    after_outcome = {"onboarding_started", "invoice_paid"}
    assert not after_outcome & set(builder.milestones_)
    assert not [c for c in features.columns if "onboarding" in c or "invoice" in c or " app" in c]
    y = outcomes.set_index("lead_id").loc[features["lead_id"], "converted"].to_numpy()
    strongest = max(
        roc_auc_score(y, features[c].fillna(-1))
        for c in features.columns
        if pd.api.types.is_numeric_dtype(features[c])
    )
    assert strongest < 0.8  # no single behaviour gives the outcome away

    # The trap a leaky pipeline falls into: every event counted, even after the outcome.
    leaky = LeadFeatureBuilder().fit(events)
    assert {"onboarding_started", "invoice_paid"} <= set(leaky.milestones_)
    leaked = leaky.transform(events)
    y_leaked = outcomes.set_index("lead_id").loc[leaked["lead_id"], "converted"].to_numpy()
    assert roc_auc_score(y_leaked, leaked["onboarding_started_count"]) > 0.99


def test_a_model_on_the_features_ranks_close_to_the_ground_truth(
    demo: DemoEvents, tmp_path: Path
) -> None:
    _events(demo, tmp_path)  # writes events.parquet
    outcomes = _outcomes(demo)
    train_ids = outcomes["lead_id"].iloc[:4000]
    test = outcomes.iloc[4000:]
    # the generator plants effects in the events and in the CRM fields: both go in
    result = build_lead_table(
        load_events(tmp_path / "events.parquet"),
        outcomes=outcomes[outcomes["lead_id"].isin(train_ids)],
        leads=demo.crm,
    )
    table = result.table
    model = LeadModel("logreg_l2", cv=3).fit(
        table.drop(columns=["lead_id", "converted", "first_seen"]), table["converted"]
    )
    held_out = build_lead_table(
        load_events(tmp_path / "events.parquet"), outcomes=test, builder=result.builder,
        leads=demo.crm,
    ).table.drop(columns=["converted"])  # fmt: skip
    assert held_out["status"].eq("Open").all()  # CRM rows as of each outcome
    scores = model.predict_proba(held_out.drop(columns=["lead_id", "first_seen"]))[:, 1]
    y = test.set_index("lead_id").loc[held_out["lead_id"], "converted"].to_numpy()
    truth = demo.truth.set_index("lead_id")["true_probability"]
    oracle = roc_auc_score(y, truth.loc[held_out["lead_id"]].to_numpy())
    achieved = roc_auc_score(y, scores)
    assert achieved > oracle - 0.05, f"model AUC {achieved:.3f} vs oracle {oracle:.3f}"
    assert np.isfinite(scores).all()
