"""Exploration below the cut-off, and inverse-propensity-weighted performance on all leads."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from leadscore import LeadModel
from leadscore.config import Business
from leadscore.demo import generate_leads
from leadscore.modeling.metrics import profit
from leadscore.monitor.exploration import ipw_performance
from leadscore.scoring.exploration import explore, uniform_draws

IDS = [f"L{i:06d}" for i in range(20_000)]


@pytest.fixture(scope="module")
def model_contact() -> np.ndarray:
    """The model contacts a random 30 % of the 20,000 leads of ``IDS``."""
    return np.random.default_rng(4).random(len(IDS)) < 0.3


# ------------------------------------------------------------------ the draw


def test_the_same_leads_and_seed_draw_the_same_and_another_seed_draws_anew(
    model_contact,
) -> None:
    first = explore(IDS, model_contact, share=0.05, seed=11)
    again = explore(IDS, model_contact, share=0.05, seed=11)
    other = explore(IDS, model_contact, share=0.05, seed=12)
    assert (first.explored == again.explored).all()
    assert (first.explored != other.explored).any()
    # about 700 leads each; two independent 5 % draws share about 5 % of them
    overlap = (first.explored & other.explored).sum() / first.explored.sum()
    assert overlap < 0.15


def test_a_lead_keeps_its_draw_whatever_batch_it_is_scored_in(model_contact) -> None:
    whole = explore(IDS, model_contact, share=0.2, seed="spring")
    order = np.random.default_rng(0).permutation(len(IDS))[:500]
    batch = explore([IDS[i] for i in order], model_contact[order], share=0.2, seed="spring")
    assert (batch.explored == whole.explored[order]).all()
    assert batch.lead_ids.tolist() == [IDS[i] for i in order]


def test_the_draw_is_a_fixed_hash_not_pythons_salted_hash() -> None:
    # pinned values: another process (the API, a Spark executor) must draw exactly these
    draws = uniform_draws(["L1", "L2"], seed=3)
    assert draws.tolist() == pytest.approx([0.68896035, 0.5526905], abs=1e-8)
    assert (uniform_draws(["L1", "L2"], seed="3") == draws).all()
    all_draws = uniform_draws(IDS)
    assert ((all_draws >= 0) & (all_draws < 1)).all()


@pytest.mark.parametrize("share", [0.05, 0.2])
def test_the_explored_share_of_the_leads_below_the_cut_off_is_close_to_share(
    model_contact, share: float
) -> None:
    chosen = explore(IDS, model_contact, share=share, seed=1)
    below = ~model_contact
    assert abs(chosen.explored[below].mean() - share) < 0.01


def test_explored_leads_are_below_the_cut_off_and_propensities_are_the_policys(
    model_contact,
) -> None:
    chosen = explore(IDS, model_contact, share=0.07, seed=2)
    assert not (chosen.explored & model_contact).any()
    assert (chosen.contacted == (model_contact | chosen.explored)).all()
    assert (chosen.propensity[model_contact] == 1.0).all()
    # below the cut-off every lead had the same chance, drawn or not
    assert (chosen.propensity[~model_contact] == 0.07).all()
    assert chosen.explored.sum() > 0


def test_share_zero_explores_nothing_and_share_one_everything(model_contact) -> None:
    none = explore(IDS, model_contact, share=0)
    assert not none.explored.any() and (none.contacted == model_contact).all()
    every = explore(IDS, model_contact, share=1)
    assert every.contacted.all() and (every.explored == ~model_contact).all()


def test_the_result_is_read_only_and_becomes_a_frame() -> None:
    chosen = explore(["a", "b", "c"], np.array([True, False, False]), share=1.0)
    with pytest.raises(ValueError, match="read-only"):
        chosen.explored[0] = True
    frame = chosen.to_frame()
    assert frame.columns.tolist() == ["lead_id", "explored", "contacted", "propensity"]
    assert frame["explored"].tolist() == [False, True, True]


@pytest.mark.parametrize(
    ("share", "message"),
    [(-0.1, "share"), (1.5, "share"), ("0.05", "share"), (True, "share"), (float("nan"), "share")],
)
def test_a_share_outside_zero_to_one_is_refused(share, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        explore(["a"], np.array([False]), share=share)


def test_bad_leads_contact_or_seed_are_refused() -> None:
    with pytest.raises(ValueError, match="contact has 1 values for 2 leads"):
        explore(["a", "b"], np.array([True]))
    with pytest.raises(ValueError, match="contact must hold True/False"):
        explore(["a", "b"], np.array(["yes", "no"]))
    with pytest.raises(ValueError, match="missing id at position 1"):
        explore(["a", None], np.array([True, False]))
    with pytest.raises(ValueError, match="seed must be an integer or a string"):
        explore(["a"], np.array([True]), seed=0.5)


# ------------------------------------------------------------------ the estimates


def test_weights_count_as_copies_of_the_lead() -> None:
    """Weight 1 / propensity = that many copies: the weighted AUC, rate and profit are those
    of the sample with the explored leads repeated, as :mod:`leadscore.modeling.metrics`
    computes them."""
    y = np.array([1, 0, 1, 0, 0, 1, 0, np.nan])
    p = np.array([0.9, 0.8, 0.3, 0.2, 0.1, 0.6, 0.05, 0.5])
    contacted = np.array([True, True, True, True, True, True, False, True])
    propensity = np.array([1.0, 1.0, 0.25, 0.25, 0.5, 1.0, 0.5, 0.25])
    decision = p >= 0.5
    business = Business()
    result = ipw_performance(y, p, contacted, propensity, business, contact=decision)

    seen = contacted & ~np.isnan(y)
    copies = np.repeat(np.flatnonzero(seen), (1 / propensity[seen]).astype(int))
    y_copies, p_copies, decision_copies = y[copies].astype(int), p[copies], decision[copies]
    assert result.corrected_auc == pytest.approx(roc_auc_score(y_copies, p_copies))
    assert result.naive_auc == pytest.approx(roc_auc_score(y[seen], p[seen]))
    assert result.corrected_auc != pytest.approx(result.naive_auc)
    assert result.corrected_rate == pytest.approx(y_copies.mean())  # 4 of 12 copies
    assert result.naive_rate == pytest.approx(0.5)
    assert result.corrected_profit_per_lead == pytest.approx(
        profit(y_copies, decision_copies, business) / len(copies)
    )
    assert result.naive_profit_per_lead == pytest.approx(
        profit(y[seen], decision[seen], business) / seen.sum()
    )
    assert (result.n_leads, result.n_contacted, result.n_explored, result.n_outcomes) == (
        8, 7, 4, 6,
    )  # fmt: skip
    # Kish: weights 1, 1, 4, 4, 2, 1 → 13² / 39
    assert result.effective_n == pytest.approx(13**2 / 39)
    assert result.every_lead_had_a_chance


def test_outcomes_of_leads_nobody_contacted_are_left_out() -> None:
    p = np.array([0.9, 0.4, 0.3, 0.2])
    contacted = np.array([True, True, False, False])
    propensity = np.array([1.0, 0.1, 0.1, 0.1])
    unknown = ipw_performance([1, 0, None, None], p, contacted, propensity, Business())
    known = ipw_performance([1, 0, 1, 1], p, contacted, propensity, Business())
    assert unknown.to_dict() == known.to_dict()
    assert known.n_outcomes == 2


def test_undefined_estimates_are_none_and_the_dict_is_json() -> None:
    one_class = ipw_performance([1, 1], [0.9, 0.8], [True, True], [1.0, 1.0], Business())
    assert one_class.naive_auc is None and one_class.corrected_auc is None
    assert one_class.naive_profit_per_lead is None  # no contact decision given
    assert one_class.effective_n == 2.0
    nothing = ipw_performance([None, None], [0.9, 0.8], [True, False], [1.0, 0.0], Business())
    assert nothing.naive_rate is None and nothing.corrected_rate is None
    assert nothing.effective_n == 0.0 and nothing.n_outcomes == 0
    text = json.dumps(nothing.to_dict(), allow_nan=False)
    assert json.loads(text)["every_lead_had_a_chance"] is False


def test_without_exploration_the_correction_has_nothing_to_correct_and_says_so() -> None:
    chosen = explore(["a", "b", "c", "d"], np.array([True, True, False, False]), share=0)
    result = ipw_performance(
        [1, 0, None, None], [0.9, 0.6, 0.3, 0.1], chosen.contacted, chosen.propensity,
        Business(),
    )  # fmt: skip
    assert result.corrected_rate == result.naive_rate
    assert not result.every_lead_had_a_chance
    assert "NOT all leads" in result.summary()[1]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"p": [0.5, 0.5]}, "p has 2 values for 3 outcomes"),
        ({"p": [0.5, 1.5, 0.2]}, "p must be probabilities"),
        ({"p": [0.5, np.nan, 0.2]}, "p must be probabilities"),
        ({"y": [1, 2, 0]}, "y must hold only 1, 0"),
        ({"y": ["yes", "no", "no"]}, "y must hold 1/0"),
        ({"contacted": [True, False]}, "contacted has 2 values for 3 leads"),
        ({"propensity": [1.0, 0.5]}, "propensity has 2 values for 3 leads"),
        ({"propensity": [1.0, 0.0, 0.5]}, "above 0 for every contacted lead"),
        ({"propensity": [1.2, 0.5, 0.5]}, "propensity must be between 0 and 1"),
        ({"propensity": [1.0, 0.5, -0.5]}, "propensity must be between 0 and 1"),
        ({"propensity": [1.0, np.nan, 0.5]}, "propensity must be between 0 and 1"),
        ({"contact": [True]}, "contact has 1 values for 3 leads"),
    ],
)
def test_bad_input_to_the_estimate_is_refused(changes: dict, message: str) -> None:
    arguments = {
        "y": [1, 0, None],
        "p": [0.9, 0.5, 0.2],
        "contacted": [True, True, False],
        "propensity": [1.0, 0.5, 0.5],
        "business": Business(),
    } | changes
    with pytest.raises(ValueError, match=message):
        ipw_performance(**arguments)


# ------------------------------------------------------------------ the acceptance test


@dataclass(frozen=True)
class Simulation:
    """90 days of arriving leads scored by a model trained on an earlier batch."""

    lead_ids: np.ndarray
    score: np.ndarray
    converted: np.ndarray
    contact: np.ndarray


@pytest.fixture(scope="module")
def ninety_days() -> Simulation:
    outcome_columns = ["lead_id", "converted", "sales_status"]
    history = generate_leads(3000, seed=3, start="2025-10-01", days=90).table
    model = LeadModel("logreg_l2", cv=3).fit(
        history.drop(columns=outcome_columns), history["converted"]
    )
    arriving = generate_leads(30_000, seed=1003, start="2026-01-01", days=90).table
    score = model.score_leads(arriving.drop(columns=outcome_columns))["score"].to_numpy()
    # each day the team calls the best fifth of that day's leads, and no one else
    day = arriving["created_at"].dt.floor("D").to_numpy()
    contact = np.zeros(len(arriving), dtype=bool)
    for today in np.unique(day):
        rows = np.flatnonzero(day == today)
        contact[rows] = model.cutoffs_.decide(score[rows], round(0.2 * len(rows))).contact
    return Simulation(
        lead_ids=arriving["lead_id"].to_numpy(),
        score=score,
        converted=(arriving["converted"] == "yes").to_numpy(),
        contact=contact,
    )


def test_the_simulation_is_ninety_days_of_a_team_calling_only_its_top_leads(
    ninety_days,
) -> None:
    assert len(pd.unique(ninety_days.lead_ids)) == 30_000
    assert 0.18 < ninety_days.contact.mean() < 0.22
    called = ninety_days.score[ninety_days.contact]
    assert np.median(called) > np.quantile(ninety_days.score, 0.75)


@pytest.mark.parametrize("share", [0.05, 0.07, 0.10])
def test_exploration_corrects_the_auc_and_rate_seen_only_through_contacted_leads(
    ninety_days, share: float
) -> None:
    """With exploration at 5–10 % the corrected AUC lies within 0.03 of the truth known
    from the generator; the naive estimate is off by more, and the report says which is
    which."""
    sim = ninety_days
    chosen = explore(sim.lead_ids, sim.contact, share=share, seed=3)
    # outcomes exist only for contacted leads
    observed = np.where(chosen.contacted, sim.converted.astype(float), np.nan)
    result = ipw_performance(
        observed, sim.score, chosen.contacted, chosen.propensity, Business(), contact=sim.contact
    )

    true_auc = roc_auc_score(sim.converted, sim.score)
    corrected_error = abs(result.corrected_auc - true_auc)
    naive_error = abs(result.naive_auc - true_auc)
    assert corrected_error < 0.03
    assert naive_error > 0.03
    assert naive_error > corrected_error

    true_rate = sim.converted.mean()
    assert abs(result.corrected_rate - true_rate) < 0.015
    assert result.naive_rate > true_rate + 0.1  # the contacted leads convert far more often

    true_profit = profit(sim.converted, sim.contact, Business()) / len(sim.score)
    assert abs(result.corrected_profit_per_lead - true_profit) < abs(
        result.naive_profit_per_lead - true_profit
    )

    naive_line, corrected_line, counts = result.summary()
    assert naive_line.startswith("naive") and f"AUC {result.naive_auc:.3f}" in naive_line
    assert corrected_line.startswith("corrected (all leads, inverse-propensity weighted)")
    assert f"AUC {result.corrected_auc:.3f}" in corrected_line
    assert f"({result.n_explored} explored)" in counts
    assert result.n_explored == chosen.explored.sum() > 0
    assert result.every_lead_had_a_chance
