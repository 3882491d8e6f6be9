"""Model quality in the terms a sales team cares about.

Ranking (ROC-AUC, PR-AUC, lift and recall in the top 10 %), decisions at a threshold
(accuracy, precision, recall, F1, profit), and probability quality (log loss, Brier
score, expected calibration error).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)

from leadscore.config import Business

#: metrics where a larger value is better; all others are "smaller is better"
HIGHER_IS_BETTER = {
    "auc", "pr_auc", "accuracy", "precision", "recall", "f1", "lift_top10", "recall_top10",
    "profit",
}  # fmt: skip
LOWER_IS_BETTER = {"log_loss", "brier", "ece", "fit_seconds", "auc_std"}
METRICS = (
    "auc", "pr_auc", "accuracy", "precision", "recall", "f1", "log_loss", "brier",
    "lift_top10", "recall_top10", "profit", "ece",
)  # fmt: skip


def safe_auc(y: np.ndarray, p: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """ROC-AUC (weighted by ``sample_weight`` when given), or NaN when only one class is
    present."""
    if len(np.unique(y)) != 2:
        return float("nan")
    return float(roc_auc_score(y, p, sample_weight=sample_weight))


def _total(values: np.ndarray, sample_weight: np.ndarray | None) -> float:
    """Sum of ``values`` (a mask or outcomes), each row counted by its weight when given."""
    if sample_weight is None:
        return float(np.sum(values))
    return float(np.sum(np.asarray(values, dtype=float) * sample_weight))


def top_share_mask(p: np.ndarray, share: float) -> np.ndarray:
    """Boolean mask of the ``share`` highest-scored rows (at least one)."""
    k = max(1, round(share * len(p)))
    order = np.argsort(-p, kind="stable")
    mask = np.zeros(len(p), dtype=bool)
    mask[order[:k]] = True
    return mask


def lift_at(
    y: np.ndarray, p: np.ndarray, share: float = 0.1, sample_weight: np.ndarray | None = None
) -> float:
    """Conversion rate in the top ``share`` divided by the overall rate (weighted: the top
    ``share`` of the rows and both rates count each row by its weight)."""
    if sample_weight is not None:
        return _weighted_top(y, p, share, sample_weight, lift=True)
    base = float(np.mean(y))
    if base == 0:
        return float("nan")
    return float(np.mean(y[top_share_mask(p, share)]) / base)


def recall_at(
    y: np.ndarray, p: np.ndarray, share: float = 0.1, sample_weight: np.ndarray | None = None
) -> float:
    """Share of all conversions found in the top ``share`` of leads."""
    if sample_weight is not None:
        return _weighted_top(y, p, share, sample_weight, lift=False)
    total = float(np.sum(y))
    if total == 0:
        return float("nan")
    return float(np.sum(y[top_share_mask(p, share)]) / total)


def _weighted_top(
    y: np.ndarray, p: np.ndarray, share: float, w: np.ndarray, *, lift: bool
) -> float:
    """Lift or recall in the highest-scored rows holding ``share`` of the total weight: the
    rows a weighted sample stands for, not the rows it happens to hold."""
    y, w = np.asarray(y, dtype=float), np.asarray(w, dtype=float)
    total, converted = float(w.sum()), float(np.sum(w * y))
    if total <= 0 or converted == 0:
        return float("nan")
    order = np.argsort(-np.asarray(p, dtype=float), kind="stable")
    top = order[: max(1, int(np.searchsorted(np.cumsum(w[order]), share * total)) + 1)]
    found = float(np.sum(w[top] * y[top]))
    if not lift:
        return found / converted
    return (found / float(w[top].sum())) / (converted / total)


def profit(
    y: np.ndarray,
    contact: np.ndarray,
    business: Business,
    sample_weight: np.ndarray | None = None,
) -> float:
    """Profit of contacting the leads where ``contact`` is true; with ``sample_weight``
    each lead counts as that many leads (a weighted sum).

    Example
    -------
    >>> profit(np.array([1, 0, 1]), np.array([True, True, False]), Business())
    -30.0
    """
    y = np.asarray(y, dtype=bool)
    contact = np.asarray(contact, dtype=bool)
    reached = _total(y & contact, sample_weight)
    wasted = _total(~y & contact, sample_weight)
    missed = _total(y & ~contact, sample_weight)
    value = business.value_per_conversion - business.cost_per_contact
    return float(
        reached * value - wasted * business.cost_per_contact
        - missed * business.missed_conversion_cost
    )  # fmt: skip


def calibration_bins(
    y: np.ndarray, p: np.ndarray, bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Equal-width score bins: edges, leads, mean score and observed rate per bin.

    The one calibration binning of the package: :func:`expected_calibration_error` and the
    calibration charts (``leadscore.reporting.curves.calibration_data``) both read it. A
    score on an inner edge belongs to the bin below it (0.2 to (0.1, 0.2]); 0 to the first
    bin, 1 to the last. Empty bins have a NaN mean score and rate.

    Example
    -------
    >>> edges, leads, mean_score, observed = calibration_bins(
    ...     np.array([0, 1, 1, 1]), np.array([0.2, 0.2, 0.9, 0.9]), bins=5
    ... )
    >>> leads.tolist(), observed[[0, 4]].tolist()
    ([2, 0, 0, 0, 2], [0.5, 1.0])
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1], right=True), 0, bins - 1)
    leads = np.zeros(bins, dtype=np.int64)
    mean_score = np.full(bins, np.nan)
    observed = np.full(bins, np.nan)
    for b in range(bins):
        in_bin = which == b
        leads[b] = in_bin.sum()
        if leads[b]:
            mean_score[b], observed[b] = p[in_bin].mean(), y[in_bin].mean()
    return edges, leads, mean_score, observed


def expected_calibration_error(
    y: np.ndarray, p: np.ndarray, bins: int = 10, sample_weight: np.ndarray | None = None
) -> float:
    """Mean |observed rate − mean score| over equal-width score bins, weighted by bin size
    (with ``sample_weight``: by the bins' weights, rates and scores weighted too).

    A value of 0.03 means scores are on average three percentage points off the rate at
    which such leads actually convert.

    Example
    -------
    >>> round(expected_calibration_error(np.array([0, 1, 1, 1]), np.array([0.2, 0.2, 0.9, 0.9])), 3)
    0.2
    """
    if sample_weight is not None:
        return _weighted_ece(y, p, bins, np.asarray(sample_weight, dtype=float))
    _, leads, mean_score, observed = calibration_bins(y, p, bins)
    total = 0.0
    for n, score, rate in zip(leads, mean_score, observed, strict=True):
        if n:
            total += n * abs(rate - score)
    return float(total / len(np.asarray(y)))


def _weighted_ece(y: np.ndarray, p: np.ndarray, bins: int, w: np.ndarray) -> float:
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        weight = float(w[which == b].sum())
        if weight > 0:
            in_bin = which == b
            rate = np.sum(w[in_bin] * y[in_bin]) / weight
            score = np.sum(w[in_bin] * p[in_bin]) / weight
            total += weight * abs(rate - score)
    return float(total / max(float(w.sum()), 1e-300))


def evaluate(
    y: np.ndarray,
    p: np.ndarray,
    threshold: float,
    business: Business,
    sample_weight: np.ndarray | None = None,
) -> dict[str, float]:
    """All leaderboard metrics for probabilities ``p`` with contact threshold ``threshold``.

    With ``sample_weight`` every metric counts each lead by its weight (weighted AUC, a
    weighted sum for profit, …): what a sample weighted to stand for every lead says of
    every lead (see :func:`leadscore.lifecycle.store_dataset.propensity_weights`).

    Example
    -------
    >>> y, p = np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9])
    >>> evaluate(y, p, 0.5, Business())["auc"]
    0.75
    >>> evaluate(y, p, 0.5, Business(), sample_weight=np.array([1, 1, 3, 1]))["auc"]
    0.625
    """
    y = np.asarray(y).astype(int)
    p = np.clip(np.asarray(p, dtype=float), 1e-7, 1 - 1e-7)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    contact = p >= threshold
    tp = _total(contact & (y == 1), w)
    fp = _total(contact & (y == 0), w)
    fn = _total(~contact & (y == 1), w)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    two_classes = len(np.unique(y)) == 2
    return {
        "auc": safe_auc(y, p, w),
        "pr_auc": float(average_precision_score(y, p, sample_weight=w))
        if two_classes
        else float("nan"),
        "accuracy": float(np.average(contact == (y == 1), weights=w)),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "log_loss": float(log_loss(y, p, labels=[0, 1], sample_weight=w)),
        "brier": float(brier_score_loss(y, p, sample_weight=w)),
        "lift_top10": lift_at(y, p, 0.1, w),
        "recall_top10": recall_at(y, p, 0.1, w),
        "profit": profit(y, contact, business, w),
        "ece": expected_calibration_error(y, p, sample_weight=w),
    }
