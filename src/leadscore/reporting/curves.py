"""The evaluation's chart data, computed once: what the report's figures and the dashboard's
Models page show.

Plain functions from outcomes and out-of-fold scores to data frames and small dataclasses:
ROC and precision-recall curves, calibration bins (``modeling.metrics``' one binning), the
confusion counts at the contact threshold, profit by threshold and by leads contacted,
cumulative gains and lift, the score distribution of converted and other leads, and the top
features by importance. Both renderers read them — :mod:`leadscore.reporting.plots`
(matplotlib, for ``leadscore report``) and :mod:`leadscore.reporting.charts` (Altair, for
the dashboard) — so a number on a PNG and in the dashboard comes from the same line of
code. Drawing choices (how many points a line goes through, colours, labels) stay with the
renderers. The insights' chart data is in :mod:`leadscore.reporting.fields`.

Example
-------
>>> import numpy as np
>>> y, p = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
>>> roc = roc_data(y, p, threshold=0.3)
>>> round(roc.auc, 2), roc.at.recall, roc.at.false_positive_rate
(0.75, 1.0, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from leadscore.modeling.metrics import calibration_bins, expected_calibration_error, lift_at
from leadscore.modeling.thresholds import Cutoffs, ThresholdChoice

#: ROC and precision-recall curves are computed on at most this many (random) leads
MAX_CURVE_ROWS = 200_000
CALIBRATION_BINS = 10
#: lift is shown from this share of leads contacted on (lift over fewer leads is noise)
LIFT_FROM = 0.01
#: bins of the score distribution
HISTOGRAM_BINS = 40
#: features in the importance chart
TOP_FEATURES = 15


# ----------------------------------------------------------------------------- helpers


def thin(n: int, limit: int, keep: Iterable[int] = ()) -> np.ndarray:
    """Indices of at most about ``limit`` evenly spaced points of ``n``: both ends and ``keep``.

    Example
    -------
    >>> thin(10, 4).tolist(), thin(10, 4, keep=[4]).tolist(), thin(3, 4).tolist()
    ([0, 3, 6, 9], [0, 3, 4, 6, 9], [0, 1, 2])
    """
    if n <= limit:
        return np.arange(n)
    picked = np.linspace(0, n - 1, limit).round().astype(int)
    return np.unique(np.concatenate([picked, np.fromiter(keep, dtype=int)]))


def sample(
    y: np.ndarray, score: np.ndarray, limit: int = MAX_CURVE_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random subset of at most ``limit`` leads (all of them when fewer).

    Example
    -------
    >>> y, p = sample(np.arange(10) % 2, np.linspace(0, 1, 10), limit=4)
    >>> len(y), len(p)
    (4, 4)
    """
    if len(y) <= limit:
        return y, score
    rows = np.random.default_rng(0).choice(len(y), size=limit, replace=False)
    return y[rows], score[rows]


# ----------------------------------------------------------------------------- threshold


@dataclass(frozen=True)
class Confusion:
    """Outcomes of contacting every lead scored at or above ``threshold``.

    ``tp``: converted and contacted, ``fp``: contacted in vain, ``fn``: converted but
    missed, ``tn``: rightly left alone.
    """

    threshold: float
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def contacted(self) -> int:
        """Leads contacted."""
        return self.tp + self.fp

    @property
    def recall(self) -> float:
        """Share of the converted leads that are contacted (the ROC curve's y)."""
        return self.tp / max(self.tp + self.fn, 1)

    @property
    def false_positive_rate(self) -> float:
        """Share of the other leads that are contacted (the ROC curve's x)."""
        return self.fp / max(self.fp + self.tn, 1)

    @property
    def precision(self) -> float:
        """Share of the contacted leads that convert; NaN when no one is contacted."""
        return self.tp / self.contacted if self.contacted else float("nan")


def confusion_at(y: np.ndarray, score: np.ndarray, threshold: float) -> Confusion:
    """The confusion counts of contacting the leads scored at or above ``threshold``.

    Example
    -------
    >>> confusion_at(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.2, 0.1]), 0.5)
    Confusion(threshold=0.5, tp=1, fp=1, fn=1, tn=1)
    """
    contact = np.asarray(score) >= threshold
    positive = np.asarray(y) == 1
    return Confusion(
        threshold=float(threshold),
        tp=int(np.sum(contact & positive)),
        fp=int(np.sum(contact & ~positive)),
        fn=int(np.sum(~contact & positive)),
        tn=int(np.sum(~contact & ~positive)),
    )


# ----------------------------------------------------------------------------- ranking


@dataclass(frozen=True)
class RocData:
    """The ROC curve (columns ``fpr``, ``tpr``, ``threshold``), its AUC, and the counts at
    the contact threshold (``at``: the point on the curve where it stands; ``None``
    without a threshold)."""

    curve: pd.DataFrame
    auc: float
    at: Confusion | None


def roc_data(
    y: np.ndarray,
    score: np.ndarray,
    threshold: float | None = None,
    *,
    auc: float | None = None,
    max_rows: int = MAX_CURVE_ROWS,
) -> RocData:
    """ROC curve of the scores (on at most ``max_rows`` random leads) and its threshold point.

    ``auc`` is taken as given (e.g. the cross-validated AUC saved with a model), else
    computed on all leads; the threshold point is counted on all leads. The curve's first
    threshold is infinite (no one contacted), as scikit-learn's ``roc_curve`` returns it.

    Example
    -------
    >>> roc = roc_data(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]), 0.3)
    >>> roc.curve.columns.tolist(), len(roc.curve)
    (['fpr', 'tpr', 'threshold'], 5)
    """
    ys, ps = sample(np.asarray(y), np.asarray(score), max_rows)
    fpr, tpr, cuts = roc_curve(ys, ps)
    if auc is None or not math.isfinite(auc):
        auc = float(roc_auc_score(y, score))
    curve = pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": cuts})
    at = None if threshold is None else confusion_at(y, score, threshold)
    return RocData(curve=curve, auc=float(auc), at=at)


@dataclass(frozen=True)
class PrecisionRecallData:
    """Precision against recall (columns ``recall``, ``precision``, ``threshold``; in
    scikit-learn's order, the last row is recall 0 with no threshold), the PR-AUC, the base
    conversion rate (what calling at random achieves) and the counts at the threshold
    (``None`` without a threshold)."""

    curve: pd.DataFrame
    pr_auc: float
    base_rate: float
    at: Confusion | None


def precision_recall_data(
    y: np.ndarray,
    score: np.ndarray,
    threshold: float | None = None,
    *,
    pr_auc: float | None = None,
    max_rows: int = MAX_CURVE_ROWS,
) -> PrecisionRecallData:
    """Precision-recall curve (on at most ``max_rows`` random leads) and its threshold point.

    ``pr_auc`` is taken as given, else computed (average precision) on the same leads as
    the curve.

    Example
    -------
    >>> pr = precision_recall_data(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]), 0.3)
    >>> pr.base_rate, pr.curve["recall"].tolist()
    (0.5, [1.0, 1.0, 0.5, 0.5, 0.0])
    """
    ys, ps = sample(np.asarray(y), np.asarray(score), max_rows)
    precision, recall, cuts = precision_recall_curve(ys, ps)
    if pr_auc is None or not math.isfinite(pr_auc):
        pr_auc = float(average_precision_score(ys, ps))
    curve = pd.DataFrame(
        {"recall": recall, "precision": precision, "threshold": np.append(cuts, np.nan)}
    )
    return PrecisionRecallData(
        curve=curve,
        pr_auc=float(pr_auc),
        base_rate=float(np.mean(y)),
        at=None if threshold is None else confusion_at(y, score, threshold),
    )


@dataclass(frozen=True)
class GainsData:
    """Cumulative gains and lift of contacting the best-scored leads first.

    ``curve`` has one row per number of leads contacted, from 0 to all: ``contacted``,
    ``share`` (of all leads), ``found`` (share of all conversions found) and ``lift``
    (``found / share``; NaN below :data:`LIFT_FROM` of the leads). ``lift_top10`` is the
    lift in the best 10 %.
    """

    curve: pd.DataFrame
    lift_top10: float


def gains_data(y: np.ndarray, score: np.ndarray, *, lift_top10: float | None = None) -> GainsData:
    """Gains and lift curves; ``lift_top10`` as given (saved metrics) or computed.

    Example
    -------
    >>> gains = gains_data(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.2, 0.1]))
    >>> gains.curve["found"].tolist(), gains.lift_top10
    ([0.0, 0.5, 0.5, 1.0, 1.0], 2.0)
    """
    y = np.asarray(y)
    order = np.argsort(-np.asarray(score), kind="stable")
    reached = np.concatenate([[0], np.cumsum(y[order])])
    share = np.arange(len(reached)) / len(y)
    found = reached / max(reached[-1], 1)
    start = max(1, math.ceil(LIFT_FROM * len(y)))
    lift = np.full(len(share), np.nan)
    lift[start:] = found[start:] / share[start:]
    if lift_top10 is None or not math.isfinite(lift_top10):
        lift_top10 = lift_at(y, np.asarray(score), 0.1)
    curve = pd.DataFrame(
        {"contacted": np.arange(len(share)), "share": share, "found": found, "lift": lift}
    )
    return GainsData(curve=curve, lift_top10=float(lift_top10))


# ----------------------------------------------------------------------------- probabilities


@dataclass(frozen=True)
class CalibrationData:
    """Calibration per equal-width score bin and its expected calibration error.

    ``bins`` has one row per bin, empty ones included: ``bin``, ``lower``, ``upper``,
    ``center``, ``leads``, ``predicted`` (mean score) and ``observed`` (conversion rate),
    the last two NaN in empty bins.
    """

    bins: pd.DataFrame
    ece: float

    @property
    def used(self) -> pd.DataFrame:
        """The bins that hold leads (the points of a calibration curve)."""
        return self.bins[self.bins["leads"] > 0]


def calibration_data(
    y: np.ndarray, score: np.ndarray, bins: int = CALIBRATION_BINS
) -> CalibrationData:
    """Mean score against observed conversion rate per bin (``modeling.metrics``' binning).

    Example
    -------
    >>> cal = calibration_data(np.array([0, 1, 1, 1]), np.array([0.2, 0.2, 0.9, 0.9]), bins=5)
    >>> cal.used[["predicted", "observed", "leads"]].values.tolist(), round(cal.ece, 3)
    ([[0.2, 0.5, 2.0], [0.9, 1.0, 2.0]], 0.2)
    """
    edges, leads, predicted, observed = calibration_bins(y, score, bins)
    frame = pd.DataFrame(
        {
            "bin": np.arange(bins),
            "lower": edges[:-1],
            "upper": edges[1:],
            "center": (edges[:-1] + edges[1:]) / 2,
            "leads": leads,
            "predicted": predicted,
            "observed": observed,
        }
    )
    return CalibrationData(bins=frame, ece=expected_calibration_error(y, score, bins))


@dataclass(frozen=True)
class ScoreDistribution:
    """Histograms of the score of not converted (0) and converted (1) leads.

    ``shares[outcome]`` is each bin's share of the group's leads (a group's bars add up to
    1, so the small converted group stays visible); ``leads[outcome]`` the group's size.
    """

    edges: np.ndarray
    shares: dict[int, np.ndarray]
    leads: dict[int, int]


def score_distribution_data(
    y: np.ndarray, score: np.ndarray, cutoffs: Cutoffs, bins: int = HISTOGRAM_BINS
) -> ScoreDistribution:
    """Score histograms per outcome over 0 to just above the top scores and the cutoffs.

    Example
    -------
    >>> cut = Cutoffs(contact=0.3, hot=0.5, warm=0.3)
    >>> dist = score_distribution_data(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.6, 0.4]), cut)
    >>> dist.leads, round(float(dist.edges[-1]), 3), float(dist.shares[1].sum())
    ({0: 2, 1: 2}, 0.629, 1.0)
    """
    y, score = np.asarray(y), np.asarray(score, dtype=float)
    top = max(float(np.quantile(score, 0.999)), cutoffs.hot, cutoffs.warm, 0.01) * 1.05
    edges = np.linspace(0.0, min(1.0, top), bins + 1)
    shares, leads = {}, {}
    for outcome in (0, 1):
        scores = score[y == outcome]
        counts, _ = np.histogram(np.clip(scores, 0, edges[-1]), bins=edges)
        shares[outcome] = counts / max(len(scores), 1)
        leads[outcome] = len(scores)
    return ScoreDistribution(edges=edges, shares=shares, leads=leads)


# ----------------------------------------------------------------------------- profit


@dataclass(frozen=True)
class ProfitData:
    """The profit curve (``modeling.thresholds.profit_curve``: ``contacted``, ``share``,
    ``threshold``, ``profit``) with the chosen policy and the two naive ones."""

    curve: pd.DataFrame
    threshold: float
    profit: float
    contacted: int
    contact_all_profit: float
    contact_none_profit: float

    @property
    def best(self) -> int:
        """Row of the curve with the highest profit."""
        return int(self.curve["profit"].to_numpy().argmax())


def profit_data(
    curve: pd.DataFrame, choice: ThresholdChoice | Mapping[str, Any] | None = None
) -> ProfitData:
    """The profit curve with a chosen threshold (``None``: the curve's most profitable row).

    Example
    -------
    >>> from leadscore.config import Business
    >>> from leadscore.modeling.thresholds import profit_curve
    >>> curve = profit_curve(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.2, 0.1]), Business())
    >>> best = profit_data(curve)
    >>> best.contacted, bool(best.profit == curve["profit"].max())
    (3, True)
    """
    if choice is None:
        row = curve.iloc[int(curve["profit"].to_numpy().argmax())]
        choice = {
            "threshold": float(row["threshold"]),
            "profit": float(row["profit"]),
            "contacted": int(row["contacted"]),
            "contact_all_profit": float(curve["profit"].iloc[-1]),
            "contact_none_profit": float(curve["profit"].iloc[0]),
        }
    elif isinstance(choice, ThresholdChoice):
        choice = choice.to_dict()
    return ProfitData(
        curve=curve,
        threshold=float(choice["threshold"]),
        profit=float(choice["profit"]),
        contacted=int(choice["contacted"]),
        contact_all_profit=float(choice["contact_all_profit"]),
        contact_none_profit=float(choice["contact_none_profit"]),
    )


# ----------------------------------------------------------------------------- importance


def importance_data(importance: pd.DataFrame, top: int = TOP_FEATURES) -> pd.DataFrame:
    """The ``top`` features by permutation importance, most important first (``std`` 0 if absent).

    Example
    -------
    >>> table = pd.DataFrame({"feature": ["a", "b"], "importance": [0.01, 0.05]})
    >>> importance_data(table)["feature"].tolist()
    ['b', 'a']
    """
    shown = importance.sort_values("importance", ascending=False).head(top)
    if "std" not in shown.columns:
        shown = shown.assign(std=0.0)
    return shown


__all__ = [
    "CALIBRATION_BINS",
    "HISTOGRAM_BINS",
    "MAX_CURVE_ROWS",
    "TOP_FEATURES",
    "CalibrationData",
    "Confusion",
    "GainsData",
    "PrecisionRecallData",
    "ProfitData",
    "RocData",
    "ScoreDistribution",
    "calibration_data",
    "confusion_at",
    "gains_data",
    "importance_data",
    "precision_recall_data",
    "profit_data",
    "roc_data",
    "sample",
    "score_distribution_data",
    "thin",
]
