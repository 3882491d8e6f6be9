"""The monitoring report's exploration section, from a store (issue 21): a team contacts
only the leads above the cut-off plus a random share below it, and learns outcomes only
for those; the corrected (inverse-propensity weighted) AUC lies close to the AUC on every
lead, which the simulation knows, and the naive one further away; the report says which
is which. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from leadscore.config import Business
from leadscore.live.outbox import add_scores
from leadscore.monitor.report import build_report
from leadscore.scoring.exploration import ExplorationPolicy
from leadscore.store import NewScore, Store

LEADS, CUT_OFF = 4000, 0.3
START = datetime(2026, 9, 1, tzinfo=UTC)


def _fill(store: Store, share: float, seed: int) -> float:
    """Scores and outcomes of a period where only the contacted leads' outcomes are known;
    returns the AUC on every lead (the truth)."""
    rng = np.random.default_rng(seed)
    p = np.clip(rng.beta(1.2, 4.0, LEADS), 0.001, 0.999)  # calibrated scores
    y = rng.random(LEADS) < p  # what every lead would do if contacted
    policy = ExplorationPolicy(share=share, seed=seed)
    items, outcomes = [], []
    for i in range(LEADS):
        lead_id = f"E{i}"
        contact, explored, chance = policy.decide(lead_id, bool(p[i] >= CUT_OFF))
        at = START + timedelta(minutes=10 * i)
        items.append(
            NewScore(lead_id, "1", float(p[i]), round(float(100 * p[i])),
                     "hot" if p[i] >= CUT_OFF else "cold", contact, scored_at=at,
                     explored=explored, propensity=chance)
        )  # fmt: skip
        if contact:  # the team learns only what it contacted
            outcomes.append((lead_id, bool(y[i]), at + timedelta(days=3), True))
    add_scores(store, items)
    store.outcomes.add_many(outcomes)
    return float(roc_auc_score(y, p))


@pytest.mark.parametrize("share", [0.05, 0.1])
def test_the_corrected_auc_lies_near_the_truth_and_the_naive_one_further(
    db_url: str, share: float
) -> None:
    with Store(db_url) as store:
        truth = _fill(store, share, seed=7)
        end = START + timedelta(days=60)
        report = build_report(store, None, Business(), start=START, end=end)
    judged = report.exploration
    assert judged is not None and judged.every_lead_had_a_chance
    assert judged.n_leads == LEADS and 0 < judged.n_explored < judged.n_contacted
    assert judged.corrected_auc is not None and judged.naive_auc is not None
    assert abs(judged.corrected_auc - truth) < 0.03
    assert abs(judged.naive_auc - truth) > abs(judged.corrected_auc - truth) + 0.02
    naive, corrected = judged.summary()[:2]
    assert naive.startswith("naive (contacted leads with outcomes only")
    assert corrected.startswith("corrected (all leads, inverse-propensity weighted)")
    section = report.to_dict()["exploration"]
    assert section["corrected_auc"] == pytest.approx(judged.corrected_auc)


def test_without_exploration_the_report_says_the_estimate_covers_only_some_leads(
    db_url: str,
) -> None:
    with Store(db_url) as store:
        _fill(store, 0.0, seed=3)
        report = build_report(store, None, Business(), start=START, end=START + timedelta(days=60))
    assert report.exploration is not None
    assert not report.exploration.every_lead_had_a_chance
    assert any("had no chance of contact" in note for note in report.notes)
