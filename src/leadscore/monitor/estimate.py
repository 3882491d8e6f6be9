"""Performance before the outcomes arrive: what calibrated scores expect of themselves.

A calibrated score p says the lead converts with probability p, so the expected confusion
matrix at any cut follows from the scores alone: contacting the leads above it reaches
Σ p conversions and wastes Σ (1 − p) contacts. From these come the expected conversion
rate, the expected ROC curve and its AUC, the expected lift and the expected profit of the
contact decisions — the idea of confidence-based performance estimation (CBPE) as NannyML
describes it.

Why here and not with NannyML: its CBPE is fitted on a reference period with known
outcomes and the package brings a large dependency tree (plotting libraries among
others), while given calibrated scores the estimate is a few lines of NumPy. Either way it
is only as good as the calibration: where scores promise more than leads deliver, the
estimate is too rosy. :func:`leadscore.monitor.performance.bands` checks exactly that
once outcomes arrive.

Example
-------
>>> estimate = expected_performance(np.array([0.9, 0.6, 0.3, 0.2]), None, Business())
>>> round(estimate.expected_rate, 3), round(estimate.expected_auc, 3)
(0.5, 0.8)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from leadscore.config import Business
from leadscore.errors import DataError
from leadscore.jsonutil import jsonable
from leadscore.modeling.metrics import top_share_mask
from leadscore.monitor.frames import PERIODS, period_start, require_columns, utc_times

OVER_TIME_COLUMNS = ("period", "n", "expected_rate", "expected_auc", "expected_profit")


@dataclass(frozen=True)
class EstimatedPerformance:
    """What a batch of calibrated scores expects, before any outcome is known.

    Attributes
    ----------
    n:
        Leads scored.
    expected_rate, expected_conversions:
        Mean and sum of the scores.
    expected_auc:
        Area under the expected ROC curve (``None`` when every score is 0 or every score
        is 1: then one outcome is never expected).
    expected_lift_top10:
        Mean score of the best-scored 10 % over the mean score (``None`` when all are 0).
    contacted, expected_profit, expected_profit_per_lead:
        Leads to contact and the expected profit of that decision (``None`` without
        contact decisions).
    """

    n: int
    expected_rate: float
    expected_conversions: float
    expected_auc: float | None
    expected_lift_top10: float | None
    contacted: int | None
    expected_profit: float | None
    expected_profit_per_lead: float | None

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON values (no NaN)."""
        return jsonable(asdict(self))


def _probabilities(scores: pd.Series | np.ndarray) -> np.ndarray:
    """The scores as a float array; a clear error unless they are probabilities."""
    try:
        p = np.asarray(scores, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("scores must be numbers (calibrated probabilities)") from None
    if p.ndim != 1:
        raise ValueError(f"scores must be one-dimensional, got shape {p.shape}")
    if len(p) == 0:
        raise DataError("no scores to estimate from: scores is empty")
    if np.isnan(p).any():
        raise ValueError(f"scores has {int(np.isnan(p).sum())} missing values")
    if ((p < 0) | (p > 1)).any():
        raise ValueError("scores must be calibrated probabilities between 0 and 1")
    return p


def expected_auc(p: np.ndarray) -> float:
    """Area under the ROC curve that calibrated scores ``p`` expect.

    Leads sorted best first; at each distinct score the expected true positives grow by the
    group's Σ p and the false positives by its Σ (1 − p) (tied leads move together, so a tie
    is a diagonal step); the AUC is the trapezoid area under the normalised curve. NaN when
    Σ p or Σ (1 − p) is 0.

    Parameters
    ----------
    p:
        Calibrated probabilities, 0–1.

    Example
    -------
    >>> round(expected_auc(np.array([0.9, 0.6, 0.3, 0.2])), 3), expected_auc(np.full(3, 0.4))
    (0.8, 0.5)
    """
    p = np.sort(np.asarray(p, dtype=float))[::-1]
    starts = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
    positive = np.add.reduceat(p, starts)
    negative = np.add.reduceat(1 - p, starts)
    total_positive, total_negative = positive.sum(), negative.sum()
    if total_positive <= 0 or total_negative <= 0:
        return float("nan")
    above = np.cumsum(positive) - positive  # expected conversions ranked above each group
    return float(np.sum(negative * (above + positive / 2)) / (total_positive * total_negative))


def expected_profit(p: np.ndarray, contact: np.ndarray, business: Business) -> float:
    """Expected profit of contacting the leads where ``contact`` is true.

    The expectation of :func:`leadscore.modeling.metrics.profit`: a contacted lead earns
    p · value − cost, a lead left alone loses p · missed-conversion cost.

    Parameters
    ----------
    p:
        Calibrated probabilities.
    contact:
        Whether each lead is contacted.
    business:
        Value and costs that define profit.

    Example
    -------
    >>> expected_profit(np.array([0.5, 0.1]), np.array([True, False]), Business())
    33.0
    """
    p = np.asarray(p, dtype=float)
    contact = np.asarray(contact, dtype=bool)
    reached = p[contact].sum() * business.value_per_conversion
    spent = contact.sum() * business.cost_per_contact
    missed = p[~contact].sum() * business.missed_conversion_cost
    return float(reached - spent - missed)


def expected_performance(
    scores: pd.Series | np.ndarray, contact: np.ndarray | None, business: Business
) -> EstimatedPerformance:
    """Expected conversion, AUC, lift and profit of a batch of calibrated scores.

    Parameters
    ----------
    scores:
        Calibrated probabilities (0–1), one per lead.
    contact:
        Whether each lead is to be contacted (the stored decisions), or ``None`` to leave
        profit out.
    business:
        Value and costs that define profit.

    Example
    -------
    >>> p = np.array([0.9, 0.6, 0.3, 0.2])
    >>> estimate = expected_performance(p, p >= 0.5, Business())
    >>> round(estimate.expected_lift_top10, 3), estimate.contacted, estimate.expected_profit
    (1.8, 2, 90.0)
    """
    p = _probabilities(scores)
    decisions = None
    if contact is not None:
        decisions = np.asarray(contact)
        if decisions.shape != p.shape:
            raise ValueError(f"contact has {decisions.size} values for {len(p)} scores")
        decisions = decisions.astype(bool)
    mean = float(p.mean())
    auc = expected_auc(p)
    lift = float(p[top_share_mask(p, 0.1)].mean() / mean) if mean > 0 else None
    total = expected_profit(p, decisions, business) if decisions is not None else None
    return EstimatedPerformance(
        n=len(p),
        expected_rate=mean,
        expected_conversions=float(p.sum()),
        expected_auc=auc if np.isfinite(auc) else None,
        expected_lift_top10=lift,
        contacted=int(decisions.sum()) if decisions is not None else None,
        expected_profit=total,
        expected_profit_per_lead=total / len(p) if total is not None else None,
    )


def estimated_over_time(
    scores: pd.DataFrame, business: Business, freq: str = "week"
) -> pd.DataFrame:
    """Per period of the score time, what the leads scored in it expect.

    Each lead counts once per period, at its last score in it.

    Parameters
    ----------
    scores:
        One row per stored score: ``lead_id, score, contact, scored_at`` are read.
    business:
        Value and costs that define profit.
    freq:
        ``"day"``, ``"week"`` (from Monday) or ``"month"``.

    Returns
    -------
    pandas.DataFrame
        ``period`` (its start, UTC), ``n``, ``expected_rate``, ``expected_auc`` (NaN when
        undefined) and ``expected_profit`` of the stored contact decisions, oldest first.

    Example
    -------
    >>> t = pd.Timestamp("2026-05-04", tz="UTC")
    >>> scores = pd.DataFrame({"lead_id": ["a", "a", "b"], "score": [0.2, 0.6, 0.4],
    ...     "contact": [False, True, True], "scored_at": [t, t + pd.Timedelta(hours=1), t]})
    >>> estimated_over_time(scores, Business())[["n", "expected_rate", "expected_profit"]]
       n  expected_rate  expected_profit
    0  2            0.5             90.0
    """
    require_columns(scores, ("lead_id", "score", "contact", "scored_at"), "scores")
    if freq not in PERIODS:
        raise ValueError(f"freq must be one of {', '.join(PERIODS)}, not {freq!r}")
    if scores.empty:
        return pd.DataFrame(columns=list(OVER_TIME_COLUMNS))
    scores = scores.reset_index(drop=True)
    times = utc_times(scores["scored_at"], "scored_at")
    frame = pd.DataFrame(
        {
            "lead_id": scores["lead_id"].astype(str),
            "score": _probabilities(scores["score"]),
            "contact": scores["contact"].to_numpy(dtype=bool),
            "scored_at": times,
            "period": period_start(times, freq),
        }
    )
    last = frame.sort_values("scored_at", kind="stable").drop_duplicates(
        ["period", "lead_id"], keep="last"
    )
    return estimated_by_period(last, business)


def estimated_by_period(last: pd.DataFrame, business: Business) -> pd.DataFrame:
    """:func:`estimated_over_time` of the leads' last scores in each period: ``period,
    score, contact``, one row per lead and period, in the order of the scores.

    Example
    -------
    >>> t = pd.Timestamp("2026-05-04", tz="UTC")
    >>> last = pd.DataFrame({"period": [t, t], "score": [0.6, 0.4], "contact": [True, True]})
    >>> estimated_by_period(last, Business())["expected_rate"].tolist()
    [0.5]
    """
    require_columns(last, ("period", "score", "contact"), "last scores")
    if last.empty:
        return pd.DataFrame(columns=list(OVER_TIME_COLUMNS))
    rows = []
    for period, group in last.groupby("period"):
        estimate = expected_performance(group["score"], group["contact"].to_numpy(), business)
        auc = estimate.expected_auc if estimate.expected_auc is not None else np.nan
        rows.append((period, estimate.n, estimate.expected_rate, auc, estimate.expected_profit))
    return pd.DataFrame(rows, columns=list(OVER_TIME_COLUMNS))
