"""Outcomes against predictions: how well the stored scores did once leads converted or not.

Every outcome is judged against the score the lead had *before* it (:func:`match_outcomes`);
from those pairs come the realised conversion per score band with the calibration gap
(:func:`bands`), the realised AUC, lift and profit beside the training estimate with a
retraining alert (:func:`realised`), and the same per period of the score time
(:func:`over_time`).

The frames taken are plain pandas with tz-aware UTC times (naive times are read as UTC):

* scores: ``lead_id, score, score_100, segment, contact, scored_at, model_version``;
* outcomes: ``lead_id, converted, occurred_at``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from leadscore.config import Business
from leadscore.explain.rates import outcomes as outcome_values
from leadscore.explain.rates import wilson_interval
from leadscore.jsonutil import jsonable
from leadscore.modeling.metrics import lift_at, profit, safe_auc
from leadscore.monitor.frames import PERIODS, band_label, period_start, require_columns, utc_times
from leadscore.monitor.intervals import BOOTSTRAP_METHOD, interval_method, intervals

SCORE_COLUMNS = (
    "lead_id", "score", "score_100", "segment", "contact", "scored_at", "model_version",
)  # fmt: skip
OUTCOME_COLUMNS = ("lead_id", "converted", "occurred_at")
MATCHED_COLUMNS = ("lead_id", "converted", "occurred_at", *SCORE_COLUMNS[1:])
BAND_COLUMNS = (
    "band", "low", "leads", "converted", "rate", "ci_low", "ci_high", "predicted", "gap",
)  # fmt: skip
OVER_TIME_COLUMNS = ("period", "leads", "n", "converted", "rate", "auc")
#: fewer conversions or non-conversions than this and the realised AUC is not reported
MIN_PER_CLASS = 5
#: what :func:`realised` reads of the training estimate
TRAINING_KEYS = ("auc", "lift_top10", "profit", "rows")


def match_outcomes(scores: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Each lead's latest outcome beside the lead's last score strictly *before* it.

    A score given at or after the outcome already knew it, so it is never used. Outcomes
    of leads with no earlier score are dropped: there is no prediction to judge.

    Parameters
    ----------
    scores:
        One row per stored score (``lead_id, score, score_100, segment, contact,
        scored_at, model_version``).
    outcomes:
        ``lead_id, converted, occurred_at``; a lead with several keeps its latest.

    Returns
    -------
    pandas.DataFrame
        ``lead_id, converted`` (0/1), ``occurred_at, score, score_100, segment, contact,
        scored_at, model_version``, oldest outcome first.

    Example
    -------
    >>> t = pd.Timestamp("2026-05-04", tz="UTC")
    >>> scores = pd.DataFrame({"lead_id": ["a", "a"], "score": [0.3, 0.9],
    ...     "score_100": [30, 90], "segment": ["warm", "hot"], "contact": [True, True],
    ...     "scored_at": [t, t + pd.Timedelta(days=2)], "model_version": "1"})
    >>> outcomes = pd.DataFrame({"lead_id": ["a"], "converted": [True],
    ...     "occurred_at": [t + pd.Timedelta(days=1)]})
    >>> match_outcomes(scores, outcomes)[["lead_id", "converted", "score_100"]]
      lead_id  converted  score_100
    0       a          1         30
    """
    require_columns(scores, SCORE_COLUMNS, "scores")
    require_columns(outcomes, OUTCOME_COLUMNS, "outcomes")
    outcomes = outcomes.reset_index(drop=True)
    done = pd.DataFrame(
        {
            "lead_id": outcomes["lead_id"].astype(str),
            "converted": outcome_values(outcomes["converted"].to_numpy()),
            "occurred_at": utc_times(outcomes["occurred_at"], "occurred_at"),
        }
    )
    done = done.sort_values("occurred_at", kind="stable").drop_duplicates("lead_id", keep="last")
    given = scores[list(SCORE_COLUMNS)].assign(
        lead_id=scores["lead_id"].astype(str),
        scored_at=utc_times(scores["scored_at"], "scored_at"),
    )
    given = given.sort_values("scored_at", kind="stable")
    matched = pd.merge_asof(
        done,
        given,
        left_on="occurred_at",
        right_on="scored_at",
        by="lead_id",
        direction="backward",
        allow_exact_matches=False,
    )
    matched = matched.loc[matched["scored_at"].notna()].reset_index(drop=True)
    return matched.astype(
        {"score": float, "score_100": np.int64, "contact": bool, "model_version": str}
    )[list(MATCHED_COLUMNS)]


def bands(matched: pd.DataFrame, width: int = 10) -> pd.DataFrame:
    """Realised conversion and calibration by score band.

    Parameters
    ----------
    matched:
        Outcomes with the score before them (:func:`match_outcomes`).
    width:
        Band width in score points (1–100); the top band reaches 100.

    Returns
    -------
    pandas.DataFrame
        One row per band with leads: ``band`` ("70–79"), ``low``, ``leads``,
        ``converted``, ``rate`` with its Wilson 95 % interval ``ci_low``/``ci_high``,
        ``predicted`` (the band's mean calibrated score) and ``gap`` (rate − predicted:
        above 0 the model promised too little, below 0 too much).

    Example
    -------
    >>> matched = pd.DataFrame({"score": [0.72, 0.78, 0.15],
    ...     "score_100": [72, 78, 15], "converted": [1, 0, 0]})
    >>> bands(matched)[["band", "leads", "rate", "predicted", "gap"]]
        band  leads  rate  predicted   gap
    0  10–19      1   0.0       0.15 -0.15
    1  70–79      2   0.5       0.75 -0.25
    """
    require_columns(matched, ("score", "score_100", "converted"), "matched outcomes")
    if isinstance(width, bool) or not isinstance(width, int | np.integer) or not 1 <= width <= 100:
        raise ValueError(f"width must be a whole number of score points from 1 to 100: {width!r}")
    if matched.empty:
        return pd.DataFrame(columns=list(BAND_COLUMNS))
    score_100 = matched["score_100"].to_numpy(dtype=np.int64)
    low = (np.minimum(score_100, 99) // width) * width
    frame = pd.DataFrame({"low": low, "score": matched["score"].to_numpy(dtype=float)})
    frame["converted"] = outcome_values(matched["converted"].to_numpy())
    out = frame.groupby("low").agg(
        leads=("score", "size"), converted=("converted", "sum"), predicted=("score", "mean")
    )
    out = out.reset_index()
    out["rate"] = out["converted"] / out["leads"]
    out["ci_low"], out["ci_high"] = wilson_interval(out["converted"], out["leads"])
    out["gap"] = out["rate"] - out["predicted"]
    out["band"] = [band_label(int(lo), width) for lo in out["low"]]
    return out[list(BAND_COLUMNS)]


@dataclass(frozen=True)
class RealisedPerformance:
    """How the stored scores did on the outcomes that arrived, beside the training estimate.

    Attributes
    ----------
    n, positives:
        Outcomes matched to an earlier score, and the conversions among them.
    auc, auc_low, auc_high:
        Realised ROC-AUC and its 95 % interval (``None`` when there are too few of either
        outcome; ``reason`` says why).
    lift_top10, lift_low, lift_high:
        Conversion rate of the best-scored 10 % over the overall rate, with its interval.
    profit, profit_per_lead:
        Profit of the stored contact decisions (:func:`leadscore.modeling.metrics.profit`).
    training_auc, training_lift_top10, training_profit_per_lead:
        The model's training (out-of-fold) estimates, when given.
    alert, recommendation:
        Whether the realised AUC is clearly below the training estimate, and what to do.
    reason, margin:
        Why the AUC is missing, if it is; the margin the alert allows.
    interval_method:
        How the intervals were made (:func:`leadscore.monitor.intervals.intervals`).
    """

    n: int
    positives: int
    auc: float | None
    auc_low: float | None
    auc_high: float | None
    lift_top10: float | None
    lift_low: float | None
    lift_high: float | None
    profit: float
    profit_per_lead: float | None
    training_auc: float | None
    training_lift_top10: float | None
    training_profit_per_lead: float | None
    alert: bool
    recommendation: str | None
    reason: str | None
    margin: float
    interval_method: str = BOOTSTRAP_METHOD

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON values (no NaN)."""
        return jsonable(asdict(self))


def _number(value: Any, name: str = "value") -> float | None:
    """A finite float, or ``None`` for missing, NaN and infinite values."""
    try:
        number = float(value) if value is not None else np.nan
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, not {value!r}") from None
    return number if np.isfinite(number) else None


def realised(
    matched: pd.DataFrame,
    business: Business,
    training: Mapping[str, float] | None = None,
    *,
    margin: float = 0.05,
    seed: int = 0,
) -> RealisedPerformance:
    """Realised AUC, lift and profit of the matched outcomes, and whether to retrain.

    The intervals (:func:`leadscore.monitor.intervals.intervals`) are a percentile
    bootstrap of 1,000 seeded resamples, which gives the lift its interval too; from
    10,000 outcomes on the AUC's is DeLong's and the lift's resamples draw only their top
    10 % (the full bootstrap would take seconds there). The alert fires when even the
    upper end of the AUC interval lies more than ``margin`` below the training AUC: a fall
    that sampling noise does not explain.

    Parameters
    ----------
    matched:
        Outcomes with the score before them (:func:`match_outcomes`).
    business:
        Value and costs that define profit.
    training:
        The training estimate, e.g. ``{**model.metadata_["cv_metrics"], "rows":
        model.metadata_["rows"]}``: ``auc``, ``lift_top10``, and ``profit`` with ``rows``
        (profit is compared per lead; without ``rows`` it is not compared).
    margin:
        How far below the training AUC the interval must lie to raise the alert.
    seed:
        Seed of the bootstrap.

    Example
    -------
    >>> may = pd.Timestamp("2026-05-01", tz="UTC")
    >>> scores = model.score_leads(leads).assign(scored_at=may, model_version="1")
    >>> outcomes = leads[["lead_id"]].assign(converted=leads["converted"] == "yes",
    ...     occurred_at=may + pd.Timedelta(days=20))
    >>> training = {**model.metadata_["cv_metrics"], "rows": model.metadata_["rows"]}
    >>> result = realised(match_outcomes(scores, outcomes), Business(), training)
    >>> result.n, result.positives, result.alert  # its own training leads: no fall
    (300, 25, False)
    """
    require_columns(matched, ("converted", "score", "contact"), "matched outcomes")
    if not 0 <= margin < 1:
        raise ValueError(f"margin must be at least 0 and below 1, not {margin!r}")
    y = outcome_values(matched["converted"].to_numpy())
    p = matched["score"].to_numpy(dtype=float)
    contact = matched["contact"].to_numpy(dtype=bool)
    n, positives = len(y), int(y.sum())
    reason = None
    if n == 0:
        reason = "no outcome has a score before it"
    elif min(positives, n - positives) < MIN_PER_CLASS:
        reason = (
            f"the AUC needs at least {MIN_PER_CLASS} conversions and {MIN_PER_CLASS} "
            f"non-conversions; the {n} outcomes hold {positives} and {n - positives}"
        )
    found, method = intervals(y, p, seed=seed) if positives else ({}, interval_method(n))
    auc = auc_low = auc_high = None
    if reason is None:
        auc = _number(safe_auc(y, p))
        auc_low, auc_high = (_number(v) for v in found["auc"])
    lift = lift_low = lift_high = None
    if positives:
        lift = _number(lift_at(y, p, 0.1))
        lift_low, lift_high = (_number(v) for v in found["lift_top10"])
    total = profit(y, contact, business)
    given = {k: _number((training or {}).get(k), f"training[{k!r}]") for k in TRAINING_KEYS}
    training_auc, training_profit, training_rows = given["auc"], given["profit"], given["rows"]
    training_profit_per_lead = (
        training_profit / training_rows if training_profit is not None and training_rows else None
    )
    alert = auc_high is not None and training_auc is not None and auc_high < training_auc - margin
    recommendation = (
        f"retrain: realised AUC {auc:.2f} ({auc_low:.2f}–{auc_high:.2f}) is below the "
        f"training estimate {training_auc:.2f} by more than {margin:g}"
        if alert
        else None
    )
    return RealisedPerformance(
        n=n,
        positives=positives,
        auc=auc,
        auc_low=auc_low,
        auc_high=auc_high,
        lift_top10=lift,
        lift_low=lift_low,
        lift_high=lift_high,
        profit=total,
        profit_per_lead=total / n if n else None,
        training_auc=training_auc,
        training_lift_top10=given["lift_top10"],
        training_profit_per_lead=training_profit_per_lead,
        alert=alert,
        recommendation=recommendation,
        reason=reason,
        margin=margin,
        interval_method=method,
    )


def over_time(scores: pd.DataFrame, outcomes: pd.DataFrame, freq: str = "week") -> pd.DataFrame:
    """Per period of the score time: leads scored, and how those judged by outcomes did.

    An outcome counts in the period of the score it is judged against (the lead's last score
    before it, as in :func:`match_outcomes`).

    Parameters
    ----------
    scores:
        One row per stored score.
    outcomes:
        ``lead_id, converted, occurred_at``.
    freq:
        ``"day"``, ``"week"`` (from Monday) or ``"month"``.

    Returns
    -------
    pandas.DataFrame
        ``period`` (its start, UTC), ``leads`` (distinct leads scored), ``n`` (outcomes
        judged), ``converted``, ``rate`` and ``auc`` (NaN without both outcomes), oldest
        period first.

    Example
    -------
    >>> t = pd.Timestamp("2026-05-04", tz="UTC")
    >>> scores = pd.DataFrame({"lead_id": ["a", "b", "c"], "score": [0.8, 0.2, 0.5],
    ...     "score_100": [80, 20, 50], "segment": ["hot", "cold", "warm"],
    ...     "contact": [True, False, True], "model_version": "1",
    ...     "scored_at": [t, t, t + pd.Timedelta(days=7)]})
    >>> outcomes = pd.DataFrame({"lead_id": ["a", "b"], "converted": [1, 0],
    ...     "occurred_at": t + pd.Timedelta(days=3)})
    >>> over_time(scores, outcomes)[["leads", "n", "rate", "auc"]]
       leads  n  rate  auc
    0      2  2   0.5  1.0
    1      1  0   NaN  NaN
    """
    require_columns(scores, SCORE_COLUMNS, "scores")
    if freq not in PERIODS:
        raise ValueError(f"freq must be one of {', '.join(PERIODS)}, not {freq!r}")
    matched = match_outcomes(scores, outcomes)
    if scores.empty:
        return pd.DataFrame(columns=list(OVER_TIME_COLUMNS))
    scored_in = period_start(utc_times(scores["scored_at"], "scored_at"), freq).rename("period")
    leads = scores["lead_id"].astype(str).groupby(scored_in).nunique()
    return over_time_of(leads, matched, freq)


def over_time_of(leads: pd.Series, matched: pd.DataFrame, freq: str = "week") -> pd.DataFrame:
    """:func:`over_time` from its parts: the distinct leads scored per period (indexed by
    the period's start) and the outcomes matched with the period's scores
    (:func:`match_outcomes` of the period's scores).

    Example
    -------
    >>> t = pd.Timestamp("2026-05-04", tz="UTC")
    >>> matched = pd.DataFrame({"converted": [1, 0], "score": [0.8, 0.2], "scored_at": [t, t]})
    >>> over_time_of(pd.Series({t: 3}), matched)[["leads", "n", "rate"]].values.tolist()
    [[3.0, 2.0, 0.5]]
    """
    out = leads.rename("leads").rename_axis("period").to_frame()
    judged = matched.assign(period=period_start(matched["scored_at"], freq))
    rows = []
    for period, group in judged.groupby("period"):
        y, p = group["converted"].to_numpy(), group["score"].to_numpy(dtype=float)
        rows.append((period, len(group), int(y.sum()), safe_auc(y, p)))
    stats = pd.DataFrame(rows, columns=["period", "n", "converted", "auc"]).set_index("period")
    out = out.join(stats, how="left")
    out["n"] = out["n"].fillna(0).astype(np.int64)
    out["converted"] = out["converted"].fillna(0).astype(np.int64)
    out["rate"] = out["converted"] / out["n"].where(out["n"] > 0)
    return out.reset_index()[list(OVER_TIME_COLUMNS)]
