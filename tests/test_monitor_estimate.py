"""Performance expected from calibrated scores alone, before outcomes arrive."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from leadscore.config import Business
from leadscore.errors import DataError
from leadscore.modeling.metrics import lift_at, profit
from leadscore.monitor.estimate import (
    estimated_over_time,
    expected_auc,
    expected_performance,
)

T0 = pd.Timestamp("2026-05-04 09:00", tz="UTC")  # a Monday
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def calibrated() -> tuple[np.ndarray, np.ndarray]:
    """20,000 calibrated scores and outcomes drawn from them: y ~ Bernoulli(p)."""
    rng = np.random.default_rng(2026)
    p = rng.beta(2, 5, size=20_000)
    y = (rng.random(len(p)) < p).astype(int)
    return p, y


def test_expected_auc_is_close_to_the_realised_auc(calibrated) -> None:
    p, y = calibrated
    estimate = expected_performance(p, None, Business())
    assert abs(estimate.expected_auc - roc_auc_score(y, p)) < 0.01
    assert abs(estimate.expected_rate - y.mean()) < 0.01
    assert abs(estimate.expected_lift_top10 - lift_at(y, p)) < 0.1


def test_expected_profit_is_close_to_the_realised_profit(calibrated) -> None:
    p, y = calibrated
    contact = p >= 0.5
    business = Business()
    estimate = expected_performance(p, contact, business)
    actual = profit(y, contact, business)
    assert estimate.contacted == int(contact.sum())
    # one draw of outcomes: its profit varies by about 2 % around the expectation
    assert abs(estimate.expected_profit - actual) < 0.03 * abs(actual)
    assert estimate.expected_profit_per_lead == pytest.approx(estimate.expected_profit / len(p))
    # averaged over 50 draws the noise shrinks seven-fold: the estimate is the mean
    draws = np.random.default_rng(5).random((50, len(p))) < p
    mean_profit = np.mean([profit(outcome, contact, business) for outcome in draws])
    assert abs(estimate.expected_profit - mean_profit) < 0.005 * abs(mean_profit)


def test_a_hand_example_of_four_leads() -> None:
    p = np.array([0.2, 0.9, 0.3, 0.6])
    estimate = expected_performance(p, np.array([False, True, False, True]), Business())
    # best first: 0.9, 0.6, 0.3, 0.2; expected positives Σp = 2, negatives Σ(1-p) = 2.
    # Each lead adds (1-p) × (Σp above it + p/2): 0.1×0.45 + 0.4×1.2 + 0.7×1.65 + 0.8×1.9
    # = 0.045 + 0.48 + 1.155 + 1.52 = 3.2, over 2 × 2 → 0.8
    assert estimate.expected_auc == pytest.approx(0.8)
    assert estimate.expected_rate == pytest.approx(0.5)
    assert estimate.expected_conversions == pytest.approx(2.0)
    # top 10 % of 4 leads is 1 lead: 0.9 over the mean 0.5
    assert estimate.expected_lift_top10 == pytest.approx(1.8)
    # contacted 0.9 and 0.6: (0.9 + 0.6) × 120 − 2 × 15 = 150; missed (0.3 + 0.2) × 120 = 60
    assert estimate.expected_profit == pytest.approx(90.0)
    assert estimate.n == 4 and estimate.contacted == 2


def test_ties_move_together() -> None:
    # two leads tied at 0.5 below one at 0.8: the tie is one diagonal step of the curve
    # Σp = 1.8, Σ(1-p) = 1.2; 0.2 × 0.4 + 1.0 × (0.8 + 0.5) = 1.38, over 1.8 × 1.2
    assert expected_auc(np.array([0.5, 0.8, 0.5])) == pytest.approx(1.38 / 2.16)


def test_constant_scores_expect_an_auc_of_one_half() -> None:
    assert expected_auc(np.full(50, 0.3)) == pytest.approx(0.5)
    assert expected_performance(np.full(7, 0.3), None, Business()).expected_auc == 0.5


def test_certain_scores_leave_the_auc_undefined() -> None:
    estimate = expected_performance(np.zeros(5), None, Business())
    assert estimate.expected_auc is None
    assert estimate.expected_lift_top10 is None
    assert estimate.expected_profit is None


def test_bad_input_gets_a_clear_error() -> None:
    with pytest.raises(DataError, match="empty"):
        expected_performance(np.array([]), None, Business())
    with pytest.raises(ValueError, match="between 0 and 1"):
        expected_performance(np.array([0.2, 1.5]), None, Business())
    with pytest.raises(ValueError, match="missing"):
        expected_performance(pd.Series([0.2, None]), None, Business())
    with pytest.raises(ValueError, match="contact has 1 values for 2 scores"):
        expected_performance(np.array([0.2, 0.4]), np.array([True]), Business())


def test_to_dict_is_strict_json() -> None:
    data = expected_performance(np.array([0.0, 0.0]), None, Business()).to_dict()
    assert json.loads(json.dumps(data, allow_nan=False))["expected_auc"] is None


def test_estimated_over_time_takes_each_leads_last_score_per_week() -> None:
    scores = pd.DataFrame(
        {
            "lead_id": ["a", "a", "b", "a", "c"],
            "score": [0.1, 0.9, 0.3, 0.5, 0.2],
            "contact": [False, True, False, True, False],
            "scored_at": [T0, T0 + DAY, T0, T0 + 7 * DAY, T0 + 8 * DAY],
        }
    )
    out = estimated_over_time(scores, Business())
    monday = pd.Timestamp("2026-05-04", tz="UTC")
    assert out["period"].tolist() == [monday, monday + 7 * DAY]
    assert out["n"].tolist() == [2, 2]
    # week 1: a at 0.9 (contacted), b at 0.3 — a's earlier 0.1 no longer counts
    assert out.loc[0, "expected_rate"] == pytest.approx(0.6)
    assert out.loc[0, "expected_profit"] == pytest.approx(0.9 * 120 - 15 - 0.3 * 120)
    assert out.loc[0, "expected_auc"] == pytest.approx(expected_auc(np.array([0.9, 0.3])))
    assert out.loc[1, "expected_rate"] == pytest.approx(0.35)


def test_estimated_over_time_names_a_missing_column() -> None:
    with pytest.raises(ValueError, match="contact"):
        estimated_over_time(pd.DataFrame({"lead_id": [], "score": []}), Business())
    empty = pd.DataFrame({"lead_id": [], "score": [], "contact": [], "scored_at": []})
    assert estimated_over_time(empty, Business()).empty
