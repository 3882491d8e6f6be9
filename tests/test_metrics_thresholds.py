"""Tests for metrics, contact thresholds, segments and calibration."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from leadscore.config import Business, Segments
from leadscore.modeling import metrics
from leadscore.modeling.calibration import LogitCalibrator
from leadscore.modeling.thresholds import (
    Cutoffs,
    choose_threshold,
    derive_cutoffs,
    profit_curve,
    segment_note,
    segment_shares,
    select_top,
)

DEFAULT = Business()  # value 120, cost 15, missed 120


def _calibrated(n: int, seed: int, low: float = 0.02, high: float = 0.98):
    rng = np.random.default_rng(seed)
    p = rng.uniform(low, high, n)
    y = (rng.random(n) < p).astype(int)
    return y, p


# --- profit ----------------------------------------------------------------------------------


def test_profit_by_hand_default_business() -> None:
    y = np.array([1, 1, 1, 0, 0, 0, 0])
    contact = np.array([True, True, False, True, True, True, False])
    # 2 reached × (120 − 15) − 3 wasted × 15 − 1 missed × 120 = 210 − 45 − 120
    assert metrics.profit(y, contact, DEFAULT) == 45.0


def test_profit_by_hand_custom_business() -> None:
    business = Business(value_per_conversion=100, cost_per_contact=10, missed_conversion_cost=0)
    y = np.array([1, 0, 1, 0])
    assert metrics.profit(y, np.array([1, 1, 0, 0]), business) == 90.0 - 10.0
    assert metrics.profit(y, np.zeros(4, dtype=bool), business) == 0.0
    assert metrics.profit(y, np.ones(4, dtype=bool), business) == 2 * 90.0 - 2 * 10.0


def test_profit_accepts_int_and_bool_arrays() -> None:
    y = [True, False, True]
    assert metrics.profit(y, [1, 1, 0], DEFAULT) == metrics.profit(
        np.array([1, 0, 1]), np.array([True, True, False]), DEFAULT
    )
    assert metrics.profit(y, [1, 1, 0], DEFAULT) == -30.0


# --- expected calibration error ----------------------------------------------------------------


def test_ece_of_calibrated_scores_is_small() -> None:
    y, p = _calibrated(200_000, seed=1)
    assert metrics.expected_calibration_error(y, p) < 0.01


@pytest.mark.parametrize("shift", [0.05, 0.1, -0.08])
def test_ece_of_shifted_scores_is_the_shift(shift: float) -> None:
    y, p = _calibrated(200_000, seed=2, low=0.1, high=0.85)
    ece = metrics.expected_calibration_error(y, p + shift)
    assert ece == pytest.approx(abs(shift), abs=0.01)


def test_ece_by_hand() -> None:
    # bin (0.1, 0.2]: scores 0.2, 0.2, observed 1/2 → |0.5 − 0.2| = 0.3 on 2 rows
    # bin (0.8, 0.9]: scores 0.9, 0.9, observed 2/2 → |1 − 0.9| = 0.1 on 2 rows
    y = np.array([0, 1, 1, 1])
    p = np.array([0.2, 0.2, 0.9, 0.9])
    assert metrics.expected_calibration_error(y, p) == pytest.approx((2 * 0.3 + 2 * 0.1) / 4)


def test_ece_handles_scores_of_zero_and_one() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.0, 0.0, 1.0, 1.0])
    assert metrics.expected_calibration_error(y, p) == 0.0


# --- ranking metrics ---------------------------------------------------------------------------


def test_lift_and_recall_at_by_hand() -> None:
    # 20 leads, 4 converted (base 0.2); top 10 % = the 2 best: one converted
    p = np.linspace(1.0, 0.05, 20)
    y = np.zeros(20, dtype=int)
    y[[0, 5, 10, 15]] = 1
    assert metrics.lift_at(y, p, 0.1) == pytest.approx((1 / 2) / 0.2)
    assert metrics.recall_at(y, p, 0.1) == pytest.approx(1 / 4)
    # top 30 % = 6 best: two converted
    assert metrics.lift_at(y, p, 0.3) == pytest.approx((2 / 6) / 0.2)
    assert metrics.recall_at(y, p, 0.3) == pytest.approx(2 / 4)
    assert metrics.recall_at(y, p, 1.0) == 1.0
    assert metrics.lift_at(y, p, 1.0) == pytest.approx(1.0)


def test_lift_and_recall_without_positives_are_nan() -> None:
    y = np.zeros(10, dtype=int)
    p = np.linspace(0, 1, 10)
    assert np.isnan(metrics.lift_at(y, p))
    assert np.isnan(metrics.recall_at(y, p))


def test_top_share_mask_takes_at_least_one_row() -> None:
    mask = metrics.top_share_mask(np.array([0.1, 0.9, 0.5]), 0.01)
    assert mask.tolist() == [False, True, False]


def test_safe_auc_one_class_is_nan() -> None:
    assert np.isnan(metrics.safe_auc(np.ones(5), np.linspace(0, 1, 5)))
    assert metrics.safe_auc(np.array([0, 1]), np.array([0.2, 0.8])) == 1.0


def test_evaluate_matches_sklearn() -> None:
    y, p = _calibrated(2_000, seed=3)
    threshold = 0.4
    result = metrics.evaluate(y, p, threshold, DEFAULT)
    assert set(result) == set(metrics.METRICS)
    assert set(metrics.METRICS) <= metrics.HIGHER_IS_BETTER | metrics.LOWER_IS_BETTER
    contact = p >= threshold
    assert result["auc"] == pytest.approx(roc_auc_score(y, p))
    assert result["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert result["accuracy"] == pytest.approx(accuracy_score(y, contact))
    assert result["precision"] == pytest.approx(precision_score(y, contact))
    assert result["recall"] == pytest.approx(recall_score(y, contact))
    assert result["f1"] == pytest.approx(f1_score(y, contact))
    assert result["log_loss"] == pytest.approx(log_loss(y, p))
    assert result["brier"] == pytest.approx(brier_score_loss(y, p))
    assert result["profit"] == metrics.profit(y, contact, DEFAULT)
    assert result["lift_top10"] == pytest.approx(metrics.lift_at(y, p, 0.1))
    assert result["recall_top10"] == pytest.approx(metrics.recall_at(y, p, 0.1))
    assert result["ece"] == pytest.approx(metrics.expected_calibration_error(y, p))


def test_evaluate_survives_hard_zero_and_one_scores() -> None:
    y = np.array([0, 1, 0, 1])
    p = np.array([0.0, 1.0, 1.0, 0.0])
    result = metrics.evaluate(y, p, 0.5, DEFAULT)
    assert np.isfinite(result["log_loss"])
    assert result["accuracy"] == 0.5
    assert result["precision"] == 0.5 and result["recall"] == 0.5


def test_evaluate_nobody_contacted() -> None:
    result = metrics.evaluate(np.array([0, 1, 1]), np.array([0.1, 0.2, 0.3]), 0.9, DEFAULT)
    assert result["precision"] == 0.0 and result["recall"] == 0.0 and result["f1"] == 0.0
    assert result["profit"] == -240.0


# --- profit curve and threshold ------------------------------------------------------------------


def test_profit_curve_by_hand() -> None:
    y = np.array([1, 0, 1, 0, 0])
    p = np.array([0.9, 0.5, 0.5, 0.2, 0.0])
    curve = profit_curve(y, p, DEFAULT)
    # the tied 0.5 leads are contacted together: no row with 2 contacts
    assert curve["contacted"].tolist() == [0, 1, 3, 4, 5]
    assert curve["share"].tolist() == [0.0, 0.2, 0.6, 0.8, 1.0]
    assert curve["profit"].tolist() == [-240.0, -15.0, 195.0, 180.0, 165.0]
    assert curve["threshold"].iloc[1:].tolist() == pytest.approx([0.7, 0.35, 0.1, 0.0])


def test_profit_curve_first_row_contacts_no_one_last_row_everyone() -> None:
    y, p = _calibrated(500, seed=4)
    p = np.round(p, 2)  # many ties
    curve = profit_curve(y, p, DEFAULT)
    first, last = curve.iloc[0], curve.iloc[-1]
    assert first["contacted"] == 0 and first["share"] == 0.0
    assert not (p >= first["threshold"]).any()
    assert first["profit"] == metrics.profit(y, np.zeros(len(y), dtype=bool), DEFAULT)
    assert last["contacted"] == len(p) and last["share"] == 1.0
    assert (p >= last["threshold"]).all()
    assert last["profit"] == metrics.profit(y, np.ones(len(y), dtype=bool), DEFAULT)
    assert curve["contacted"].is_monotonic_increasing
    assert curve["threshold"].is_monotonic_decreasing


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_profit_curve_matches_brute_force_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    p = rng.choice(np.linspace(0.0, 1.0, 21), n)  # 21 distinct scores: heavy ties
    y = (rng.random(n) < p).astype(int)
    business = Business(value_per_conversion=80, cost_per_contact=7, missed_conversion_cost=30)
    curve = profit_curve(y, p, business)
    assert len(curve) == len(np.unique(p)) + 1  # one row per distinct score, plus "no one"
    for row in curve.itertuples():
        contact = p >= row.threshold
        assert contact.sum() == row.contacted
        assert row.profit == pytest.approx(metrics.profit(y, contact, business))
    # every achievable top-k cut (k where the score changes) is present
    distinct = np.sort(np.unique(p))[::-1]
    expected_k = [0, *(int((p >= s).sum()) for s in distinct)]
    assert curve["contacted"].tolist() == expected_k


def test_profit_curve_threshold_separates_adjacent_scores() -> None:
    # Two scores one float step apart: contacting only the higher one must be expressible as
    # "contact when the score is at least the threshold".
    for low in (0.1, 0.123, 0.5, 0.7):
        high = np.nextafter(low, 1.0)
        p = np.array([high, low])
        curve = profit_curve(np.array([1, 0]), p, DEFAULT)
        for row in curve.itertuples():
            assert int((p >= row.threshold).sum()) == row.contacted, (low, row)


def test_choose_threshold_picks_the_max_profit_row() -> None:
    y, p = _calibrated(1_000, seed=5)
    choice = choose_threshold(y, p, DEFAULT)
    curve = profit_curve(y, p, DEFAULT)
    assert choice.profit == curve["profit"].max()
    assert choice.profit == metrics.profit(y, p >= choice.threshold, DEFAULT)
    assert choice.contacted == int((p >= choice.threshold).sum())
    assert choice.n_leads == 1_000
    assert choice.contact_all_profit == metrics.profit(y, np.ones(1_000, bool), DEFAULT)
    assert choice.contact_none_profit == metrics.profit(y, np.zeros(1_000, bool), DEFAULT)
    assert choice.default_threshold_profit == metrics.profit(y, p >= 0.5, DEFAULT)
    assert choice.profit >= max(
        choice.contact_all_profit, choice.contact_none_profit, choice.default_threshold_profit
    )
    assert set(choice.to_dict()) == {
        "threshold", "profit", "contacted", "n_leads", "contact_all_profit",
        "contact_none_profit", "default_threshold_profit",
    }  # fmt: skip


def test_choose_threshold_by_hand() -> None:
    choice = choose_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.7, 0.9]), DEFAULT)
    assert choice.contacted == 2
    assert choice.profit == 210.0
    assert 0.2 < choice.threshold <= 0.7
    assert choice.contact_all_profit == 2 * 105.0 - 2 * 15.0
    assert choice.contact_none_profit == -240.0
    assert choice.default_threshold_profit == 210.0


def test_choose_threshold_when_contacts_cost_more_than_they_earn() -> None:
    business = Business(value_per_conversion=10, cost_per_contact=50, missed_conversion_cost=0)
    y, p = _calibrated(200, seed=6)
    choice = choose_threshold(y, p, business)
    assert choice.contacted == 0
    assert choice.profit == 0.0
    assert not (p >= choice.threshold).any()


# --- cutoffs and segments -----------------------------------------------------------------------


def test_derive_cutoffs_uses_hot_share_quantile() -> None:
    p = np.linspace(0.0, 1.0, 101)
    cutoffs = derive_cutoffs(p, threshold=0.3, segments=Segments(hot_share=0.2))
    assert cutoffs.contact == 0.3
    assert cutoffs.warm == 0.3
    assert cutoffs.hot == pytest.approx(0.8)
    segments = cutoffs.segment(p)
    assert (segments == "hot").mean() == pytest.approx(21 / 101)  # 0.80 … 1.00
    assert (segments == "cold").sum() == 30  # 0.00 … 0.29


def test_derive_cutoffs_honours_fixed_cutoffs() -> None:
    p = np.linspace(0.0, 1.0, 101)
    fixed = Segments(hot_cutoff=0.6, warm_cutoff=0.25)
    cutoffs = derive_cutoffs(p, threshold=0.3, segments=fixed)
    assert (cutoffs.contact, cutoffs.warm, cutoffs.hot) == (0.3, 0.25, 0.6)
    only_hot = derive_cutoffs(p, threshold=0.3, segments=Segments(hot_cutoff=0.9))
    assert (only_hot.warm, only_hot.hot) == (0.3, 0.9)


@pytest.mark.parametrize("threshold", [0.5, 0.95])
def test_hot_is_never_below_warm(threshold: float) -> None:
    p = np.linspace(0.0, 0.6, 50)  # the top 20 % starts near 0.48
    cutoffs = derive_cutoffs(p, threshold=threshold, segments=Segments(hot_share=0.2))
    assert cutoffs.hot >= cutoffs.warm == threshold
    fixed = derive_cutoffs(p, threshold=threshold, segments=Segments(hot_cutoff=0.4))
    assert fixed.hot >= fixed.warm


def test_warm_is_not_empty_when_few_leads_are_worth_a_call() -> None:
    # the profit-optimal threshold lies above the top 20 %: hot used to equal warm
    p = np.random.default_rng(0).beta(1, 12, 5000)
    threshold = float(np.quantile(p, 0.9))
    cutoffs = derive_cutoffs(p, threshold=threshold, segments=Segments(hot_share=0.2))
    assert cutoffs.warm == threshold < cutoffs.hot
    shares = segment_shares(p, cutoffs)
    assert shares["hot"] == pytest.approx(0.05, abs=0.002)  # the better half of the 10 %
    assert shares["warm"] == pytest.approx(0.05, abs=0.002)
    assert segment_note(p, cutoffs) is None


def test_a_clear_note_when_the_data_cannot_support_three_segments() -> None:
    p = np.random.default_rng(1).beta(1, 12, 1000)
    threshold = float(np.sort(p)[-15])  # 15 leads worth a call: too few to split
    cutoffs = derive_cutoffs(p, threshold=threshold, segments=Segments())
    assert cutoffs.hot == cutoffs.warm
    note = segment_note(p, cutoffs)
    assert note is not None and "too few to split into hot and warm" in note
    everyone = derive_cutoffs(p, threshold=0.0, segments=Segments())
    assert "no lead is cold" in segment_note(p, everyone)


def test_cutoffs_segment() -> None:
    cutoffs = Cutoffs(contact=0.2, hot=0.6, warm=0.2)
    p = np.array([0.0, 0.1999, 0.2, 0.5999, 0.6, 1.0])
    assert cutoffs.segment(p).tolist() == ["cold", "cold", "warm", "warm", "hot", "hot"]
    assert cutoffs.to_dict() == {"contact": 0.2, "hot": 0.6, "warm": 0.2}


def test_select_top_with_capacity() -> None:
    scores = np.array([0.3, 0.9, 0.1, 0.5, 0.9, 0.7])
    assert select_top(scores, 2).tolist() == [False, True, False, False, True, False]
    assert select_top(scores, 3).tolist() == [False, True, False, False, True, True]
    assert select_top(scores, 0).sum() == 0
    assert select_top(scores, 100).all()
    # a tie at the capacity edge is broken by position (first lead wins)
    assert select_top(np.array([0.5, 0.5, 0.5]), 1).tolist() == [True, False, False]


# --- calibration ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def miscalibrated():
    y, p = _calibrated(50_000, seed=7, low=0.05, high=0.95)
    return y, p**3  # raw scores far too low, in the same order as the truth


def test_calibrator_preserves_order_and_auc(miscalibrated) -> None:
    y, raw = miscalibrated
    calibrated = LogitCalibrator().fit(raw, y).transform(raw)
    assert roc_auc_score(y, calibrated) == roc_auc_score(y, raw)
    order = np.argsort(raw)
    assert np.all(np.diff(calibrated[order]) >= 0)
    assert np.all((calibrated > 0) & (calibrated < 1))


def test_calibrator_fixes_miscalibration(miscalibrated) -> None:
    y, raw = miscalibrated
    calibrator = LogitCalibrator().fit(raw, y)
    calibrated = calibrator.transform(raw)
    raw_ece = metrics.expected_calibration_error(y, raw)
    cal_ece = metrics.expected_calibration_error(y, calibrated)
    assert raw_ece > 0.2
    assert cal_ece < raw_ece / 5
    assert cal_ece < 0.04
    assert calibrated.mean() == pytest.approx(y.mean(), abs=0.01)
    assert calibrator.slope_ > 0


def test_calibrator_leaves_calibrated_scores_alone() -> None:
    y, p = _calibrated(50_000, seed=8, low=0.05, high=0.95)
    calibrator = LogitCalibrator().fit(p, y)
    # logit(p) is the true log-odds: the fit should be near the identity (slope 1, intercept 0)
    assert calibrator.slope_ == pytest.approx(1.0, abs=0.1)
    assert calibrator.intercept_ == pytest.approx(0.0, abs=0.1)
    assert np.max(np.abs(calibrator.transform(p) - p)) < 0.03


def test_calibrator_keeps_distinct_tiny_scores_distinct() -> None:
    # Boosters emit probabilities like 1e-8; the map is documented as strictly increasing.
    raw = np.array([1e-9, 1e-8, 1e-7, 0.3, 0.6, 0.9])
    calibrator = LogitCalibrator().fit(raw, np.array([0, 0, 1, 0, 1, 1]))
    assert calibrator.slope_ > 0
    out = calibrator.transform(raw)
    assert np.all(np.diff(out) > 0), out


def test_calibrator_without_signal_predicts_about_the_base_rate() -> None:
    rng = np.random.default_rng(9)
    raw = rng.uniform(0.2, 0.8, 2_000)
    y = (raw < 0.35).astype(int)  # higher raw score means *less* likely: no usable ranking
    calibrator = LogitCalibrator().fit(raw, y)
    out = calibrator.transform(raw)
    assert calibrator.slope_ > 0
    assert out.mean() == pytest.approx(y.mean(), abs=0.01)
    assert np.all(np.diff(out[np.argsort(raw)]) >= 0)


def test_calibrator_must_be_fitted() -> None:
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LogitCalibrator().transform(np.array([0.5]))
