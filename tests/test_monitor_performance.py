"""Outcomes against predictions: matching, bands, realised AUC/lift/profit, over time."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from leadscore.config import Business
from leadscore.explain.rates import wilson_interval
from leadscore.modeling.metrics import lift_at, profit
from leadscore.monitor.intervals import (
    BOOTSTRAP_METHOD,
    DELONG_FROM,
    DELONG_METHOD,
    bootstrap_intervals,
    delong_interval,
    lift_interval,
)
from leadscore.monitor.performance import (
    MATCHED_COLUMNS,
    bands,
    match_outcomes,
    over_time,
    realised,
)

T0 = pd.Timestamp("2026-05-04 09:00", tz="UTC")  # a Monday
DAY = pd.Timedelta(days=1)
HOUR = pd.Timedelta(hours=1)


def _scores(rows: list[tuple[str, float, pd.Timestamp]]) -> pd.DataFrame:
    """A scores frame from ``(lead_id, score, scored_at)`` rows."""
    p = np.array([r[1] for r in rows], dtype=float)
    return pd.DataFrame(
        {
            "lead_id": [r[0] for r in rows],
            "score": p,
            "score_100": np.rint(p * 100).astype(int),
            "segment": np.where(p >= 0.5, "hot", "cold"),
            "contact": p >= 0.3,
            "scored_at": pd.to_datetime([r[2] for r in rows], utc=True),
            "model_version": "v1",
        }
    )


def _outcomes(rows: list[tuple[str, bool, pd.Timestamp]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": [r[0] for r in rows],
            "converted": [r[1] for r in rows],
            "occurred_at": pd.to_datetime([r[2] for r in rows], utc=True),
        }
    )


def _calibrated(n: int, seed: int) -> pd.DataFrame:
    """Matched outcomes whose scores are calibrated by construction: y ~ Bernoulli(p)."""
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 5, size=n)
    y = (rng.random(n) < p).astype(int)
    return pd.DataFrame(
        {"converted": y, "score": p, "score_100": np.rint(p * 100).astype(int), "contact": p >= 0.3}
    )


# ----------------------------------------------------------------------------- matching


def test_match_uses_the_score_before_the_outcome_not_the_one_after() -> None:
    scores = _scores(
        [
            ("a", 0.30, T0),
            ("a", 0.40, T0 + DAY),
            ("a", 0.95, T0 + 2 * DAY + HOUR),  # after the outcome: it already knew
            ("b", 0.20, T0),
        ]
    )
    outcomes = _outcomes([("a", True, T0 + 2 * DAY), ("b", False, T0 + DAY)])
    matched = match_outcomes(scores, outcomes).set_index("lead_id")
    assert matched.loc["a", "score"] == pytest.approx(0.40)
    assert matched.loc["a", "scored_at"] == T0 + DAY
    assert matched.loc["a", "converted"] == 1
    assert matched.loc["b", "score"] == pytest.approx(0.20)
    assert matched.loc["b", "converted"] == 0


def test_match_ignores_a_score_at_the_outcome_time_and_drops_unscored_outcomes() -> None:
    scores = _scores([("a", 0.9, T0 + DAY), ("b", 0.5, T0)])
    outcomes = _outcomes([("a", True, T0 + DAY), ("b", False, T0 + DAY), ("c", True, T0)])
    matched = match_outcomes(scores, outcomes)
    assert matched["lead_id"].tolist() == ["b"]
    assert list(matched.columns) == list(MATCHED_COLUMNS)
    assert matched["converted"].dtype == np.int64
    assert matched["contact"].dtype == bool


def test_match_keeps_a_leads_latest_outcome() -> None:
    scores = _scores([("a", 0.2, T0), ("a", 0.7, T0 + 2 * DAY)])
    outcomes = _outcomes([("a", True, T0 + 3 * DAY), ("a", False, T0 + DAY)])
    matched = match_outcomes(scores, outcomes)
    assert len(matched) == 1
    assert matched.loc[0, "converted"] == 1
    assert matched.loc[0, "score"] == pytest.approx(0.7)


def test_match_names_a_missing_column() -> None:
    scores = _scores([("a", 0.2, T0)]).drop(columns=["scored_at"])
    with pytest.raises(ValueError, match="scored_at"):
        match_outcomes(scores, _outcomes([("a", True, T0 + DAY)]))
    outcomes = _outcomes([("a", True, T0 + DAY)]).drop(columns=["converted"])
    with pytest.raises(ValueError, match="converted"):
        match_outcomes(_scores([("a", 0.2, T0)]), outcomes)


# ----------------------------------------------------------------------------- bands


def test_bands_on_a_hand_example() -> None:
    matched = pd.DataFrame(
        {
            "score": [0.72, 0.78, 0.72, 0.15, 1.0, 0.93],
            "score_100": [72, 78, 72, 15, 100, 93],
            "converted": [1, 0, 1, 0, 1, 1],
        }
    )
    out = bands(matched)
    assert out["band"].tolist() == ["10–19", "70–79", "90–100"]
    assert out["low"].tolist() == [10, 70, 90]
    assert out["leads"].tolist() == [1, 3, 2]
    assert out["converted"].tolist() == [0, 2, 2]
    assert out["rate"].tolist() == pytest.approx([0.0, 2 / 3, 1.0])
    assert out["predicted"].tolist() == pytest.approx([0.15, 0.74, 0.965])
    assert out["gap"].tolist() == pytest.approx([-0.15, 2 / 3 - 0.74, 0.035])
    low, high = wilson_interval(2, 3)
    assert out.loc[1, "ci_low"] == pytest.approx(float(low))
    assert out.loc[1, "ci_high"] == pytest.approx(float(high))


def test_bands_of_other_widths_and_bad_widths() -> None:
    matched = pd.DataFrame({"score": [0.1, 0.6], "score_100": [10, 60], "converted": [0, 1]})
    assert bands(matched, width=25)["band"].tolist() == ["0–24", "50–74"]
    assert bands(matched.iloc[:0]).empty
    with pytest.raises(ValueError, match="width"):
        bands(matched, width=0)


# ----------------------------------------------------------------------------- realised


def test_auc_interval_covers_sklearns_auc_and_is_narrow() -> None:
    matched = _calibrated(5000, seed=7)
    result = realised(matched, Business())
    exact = roc_auc_score(matched["converted"], matched["score"])
    assert result.auc == pytest.approx(exact)
    assert result.auc_low < exact < result.auc_high
    assert result.auc_high - result.auc_low < 0.06
    assert result.lift_low < result.lift_top10 < result.lift_high
    y, contact = matched["converted"].to_numpy(), matched["contact"].to_numpy()
    assert result.profit == pytest.approx(profit(y, contact, Business()))
    assert result.profit_per_lead == pytest.approx(result.profit / 5000)


def test_vectorised_bootstrap_equals_resampling_one_by_one() -> None:
    matched = _calibrated(300, seed=3)
    y, p = matched["converted"].to_numpy(), matched["score"].to_numpy()
    tied = np.round(p, 2)  # ties between converters and the others count half in the AUC
    # the same draws (one block: 200 × 300 cells), scored by sklearn and lift_at one by one
    drawn = np.random.default_rng(11).integers(0, len(y), size=(200, len(y)))
    aucs = [roc_auc_score(y[i], tied[i]) for i in drawn]
    fast = bootstrap_intervals(y, tied, resamples=200, seed=11)
    assert fast["auc"] == pytest.approx(tuple(np.percentile(aucs, [2.5, 97.5])))
    # lift without ties: which of two tied leads fills the last top-10 % place is arbitrary
    lifts = [lift_at(y[i], p[i]) for i in drawn]
    fast = bootstrap_intervals(y, p, resamples=200, seed=11)
    assert fast["lift_top10"] == pytest.approx(tuple(np.percentile(lifts, [2.5, 97.5])))


def test_delong_interval_is_the_textbook_one_with_ties() -> None:
    matched = _calibrated(400, seed=8)
    y, p = matched["converted"].to_numpy(), np.round(matched["score"].to_numpy(), 2)
    # DeLong's components by brute force: every converter against every other lead
    won = p[y == 1][:, None] > p[y == 0][None, :]
    tied = p[y == 1][:, None] == p[y == 0][None, :]
    kernel = won + 0.5 * tied
    auc = kernel.mean()
    variance = kernel.mean(axis=1).var(ddof=1) / won.shape[0]
    variance += kernel.mean(axis=0).var(ddof=1) / won.shape[1]
    spread = 1.959963984540054 * np.sqrt(variance)
    assert auc == pytest.approx(roc_auc_score(y, p))
    assert delong_interval(y, p) == pytest.approx((auc - spread, auc + spread), abs=1e-12)
    assert np.isnan(delong_interval(np.array([1, 0, 0]), np.array([0.9, 0.1, 0.2]))).all()


def test_large_samples_get_delong_and_the_same_intervals_as_the_bootstrap() -> None:
    matched = _calibrated(DELONG_FROM + 10_000, seed=9)
    y, p = matched["converted"].to_numpy(), matched["score"].to_numpy()
    result = realised(matched, Business())
    assert result.interval_method == DELONG_METHOD
    assert (result.auc_low, result.auc_high) == delong_interval(y, p)
    assert (result.lift_low, result.lift_high) == lift_interval(y, p)
    boot = bootstrap_intervals(y, p)  # what the report gave before, at ~20 times the cost
    assert (result.auc_low, result.auc_high) == pytest.approx(boot["auc"], abs=0.002)
    assert (result.lift_low, result.lift_high) == pytest.approx(boot["lift_top10"], rel=0.01)
    assert realised(matched.iloc[: DELONG_FROM - 1], Business()).interval_method == (
        BOOTSTRAP_METHOD
    )


def test_the_lift_drawn_from_the_top_alone_is_distributed_as_a_full_resample() -> None:
    matched = _calibrated(3000, seed=10)
    y, p = matched["converted"].to_numpy(), matched["score"].to_numpy()
    # 20,000 full resamples (every lead drawn) against 20,000 drawn from their top alone:
    # each places the percentiles to about ±0.005 here
    full = bootstrap_intervals(y, p, resamples=20_000, seed=3)["lift_top10"]
    for seed in range(2):
        top = lift_interval(y, p, resamples=20_000, seed=seed)
        assert top == pytest.approx(full, abs=0.015)
    assert lift_interval(y, p, seed=1) == lift_interval(y, p, seed=1)


def test_a_training_estimate_far_above_raises_the_alert() -> None:
    matched = _calibrated(2000, seed=1)
    result = realised(matched, Business(), {"auc": 0.95, "lift_top10": 3.0})
    assert result.alert
    assert result.recommendation is not None
    assert result.recommendation.startswith(f"retrain: realised AUC {result.auc:.2f} (")
    assert "below the training estimate 0.95 by more than 0.05" in result.recommendation
    assert result.training_lift_top10 == 3.0


def test_a_training_estimate_close_by_raises_no_alert() -> None:
    matched = _calibrated(2000, seed=1)
    close = realised(matched, Business(), {"auc": realised(matched, Business()).auc + 0.03})
    assert not close.alert
    assert close.recommendation is None
    assert not realised(matched, Business()).alert  # nothing to compare with


def test_training_profit_is_compared_per_lead() -> None:
    matched = _calibrated(500, seed=2)
    result = realised(matched, Business(), {"auc": 0.7, "profit": 9000.0, "rows": 300})
    assert result.training_profit_per_lead == pytest.approx(30.0)
    assert realised(matched, Business(), {"profit": 9000.0}).training_profit_per_lead is None


def test_one_class_only_gives_no_auc_and_no_alert() -> None:
    matched = _calibrated(400, seed=5).assign(converted=0)
    result = realised(matched, Business(), {"auc": 0.99})
    assert result.auc is None and result.auc_low is None
    assert result.lift_top10 is None
    assert not result.alert
    assert result.reason is not None and "0 and 400" in result.reason
    assert result.profit == pytest.approx(-15.0 * matched["contact"].sum())


def test_no_matched_outcomes() -> None:
    empty = _calibrated(10, seed=0).iloc[:0]
    result = realised(empty, Business(), {"auc": 0.8})
    assert (result.n, result.auc, result.profit_per_lead, result.alert) == (0, None, None, False)


def test_to_dict_is_strict_json() -> None:
    matched = _calibrated(1000, seed=4)
    text = json.dumps(realised(matched, Business(), {"auc": 0.9}).to_dict(), allow_nan=False)
    assert json.loads(text)["n"] == 1000
    one_class = realised(matched.assign(converted=1), Business(), {"lift_top10": float("nan")})
    data = json.loads(json.dumps(one_class.to_dict(), allow_nan=False))
    assert data["auc"] is None and data["training_lift_top10"] is None


def test_the_same_seed_gives_the_same_interval() -> None:
    matched = _calibrated(800, seed=6)
    first, again = realised(matched, Business(), seed=3), realised(matched, Business(), seed=3)
    assert (first.auc_low, first.auc_high) == (again.auc_low, again.auc_high)


# ----------------------------------------------------------------------------- over time


def test_over_time_counts_per_week_of_the_judged_score() -> None:
    scores = _scores(
        [
            ("a", 0.8, T0),
            ("b", 0.2, T0 + DAY),
            ("c", 0.6, T0 + 2 * DAY),
            ("a", 0.9, T0 + 7 * DAY),  # after a's outcome: scored, but not judged
            ("d", 0.4, T0 + 8 * DAY),
        ]
    )
    outcomes = _outcomes(
        [("a", True, T0 + 3 * DAY), ("b", False, T0 + 4 * DAY), ("c", False, T0 + 5 * DAY)]
    )
    out = over_time(scores, outcomes)
    monday = pd.Timestamp("2026-05-04", tz="UTC")
    assert out["period"].tolist() == [monday, monday + 7 * DAY]
    assert out["leads"].tolist() == [3, 2]
    assert out["n"].tolist() == [3, 0]
    assert out["converted"].tolist() == [1, 0]
    assert out.loc[0, "rate"] == pytest.approx(1 / 3)
    assert out.loc[0, "auc"] == pytest.approx(1.0)
    assert np.isnan(out.loc[1, "rate"]) and np.isnan(out.loc[1, "auc"])


def test_over_time_by_day_and_a_bad_period() -> None:
    scores = _scores([("a", 0.8, T0), ("b", 0.2, T0 + DAY)])
    out = over_time(scores, _outcomes([]), freq="day")
    assert out["leads"].tolist() == [1, 1]
    assert out["n"].tolist() == [0, 0]
    with pytest.raises(ValueError, match="freq"):
        over_time(scores, _outcomes([]), freq="fortnight")
