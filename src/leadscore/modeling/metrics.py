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


def safe_auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC-AUC, or NaN when only one class is present."""
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")


def top_share_mask(p: np.ndarray, share: float) -> np.ndarray:
    """Boolean mask of the ``share`` highest-scored rows (at least one)."""
    k = max(1, round(share * len(p)))
    order = np.argsort(-p, kind="stable")
    mask = np.zeros(len(p), dtype=bool)
    mask[order[:k]] = True
    return mask


def lift_at(y: np.ndarray, p: np.ndarray, share: float = 0.1) -> float:
    """Conversion rate in the top ``share`` divided by the overall rate."""
    base = float(np.mean(y))
    if base == 0:
        return float("nan")
    return float(np.mean(y[top_share_mask(p, share)]) / base)


def recall_at(y: np.ndarray, p: np.ndarray, share: float = 0.1) -> float:
    """Share of all conversions found in the top ``share`` of leads."""
    total = float(np.sum(y))
    if total == 0:
        return float("nan")
    return float(np.sum(y[top_share_mask(p, share)]) / total)


def profit(y: np.ndarray, contact: np.ndarray, business: Business) -> float:
    """Profit of contacting the leads where ``contact`` is true.

    Example
    -------
    >>> profit(np.array([1, 0, 1]), np.array([True, True, False]), Business())
    -30.0
    """
    y = np.asarray(y, dtype=bool)
    contact = np.asarray(contact, dtype=bool)
    reached = np.sum(y & contact)
    wasted = np.sum(~y & contact)
    missed = np.sum(y & ~contact)
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


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate − mean score| over equal-width score bins, weighted by bin size.

    A value of 0.03 means scores are on average three percentage points off the rate at
    which such leads actually convert.

    Example
    -------
    >>> round(expected_calibration_error(np.array([0, 1, 1, 1]), np.array([0.2, 0.2, 0.9, 0.9])), 3)
    0.2
    """
    _, leads, mean_score, observed = calibration_bins(y, p, bins)
    total = 0.0
    for n, score, rate in zip(leads, mean_score, observed, strict=True):
        if n:
            total += n * abs(rate - score)
    return float(total / len(np.asarray(y)))


def evaluate(
    y: np.ndarray, p: np.ndarray, threshold: float, business: Business
) -> dict[str, float]:
    """All leaderboard metrics for probabilities ``p`` with contact threshold ``threshold``."""
    y = np.asarray(y).astype(int)
    p = np.clip(np.asarray(p, dtype=float), 1e-7, 1 - 1e-7)
    contact = p >= threshold
    tp = float(np.sum(contact & (y == 1)))
    fp = float(np.sum(contact & (y == 0)))
    fn = float(np.sum(~contact & (y == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    two_classes = len(np.unique(y)) == 2
    return {
        "auc": safe_auc(y, p),
        "pr_auc": float(average_precision_score(y, p)) if two_classes else float("nan"),
        "accuracy": float(np.mean(contact == (y == 1))),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "lift_top10": lift_at(y, p, 0.1),
        "recall_top10": recall_at(y, p, 0.1),
        "profit": profit(y, contact, business),
        "ece": expected_calibration_error(y, p),
    }
