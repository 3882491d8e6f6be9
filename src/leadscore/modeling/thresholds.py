"""Who to contact: the profit-optimal threshold, hot/warm/cold cutoffs, capacity limits."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from leadscore.config import Business, Segments
from leadscore.modeling.metrics import profit as profit_of

SEGMENTS = ("hot", "warm", "cold")


def profit_curve(
    y: np.ndarray,
    p: np.ndarray,
    business: Business,
    sample_weight: np.ndarray | None = None,
) -> pd.DataFrame:
    """Profit of contacting the top-k leads for every k at which the score changes.

    Returns columns ``contacted`` (k), ``share`` (k / n), ``threshold`` (contact when the
    score is at least this) and ``profit``. Row 0 is "contact no one", the last row
    "contact everyone". With ``sample_weight`` each lead counts as that many leads in the
    profit (a weighted sum); ``contacted`` and ``share`` still count rows.
    """
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    order = np.argsort(-p, kind="stable")
    p_sorted = p[order]
    k = np.arange(len(p) + 1)
    if sample_weight is None:
        reached = np.concatenate([[0], np.cumsum(y[order])])
        calls = k
    else:
        w = np.asarray(sample_weight, dtype=float)[order]
        reached = np.concatenate([[0.0], np.cumsum(w * y[order])])
        calls = np.concatenate([[0.0], np.cumsum(w)])
    positives = reached[-1]
    value = business.value_per_conversion - business.cost_per_contact
    profits = (
        reached * value
        - (calls - reached) * business.cost_per_contact
        - (positives - reached) * business.missed_conversion_cost
    )
    # Only cut where the score changes: tied leads are contacted together or not at all.
    cut = np.ones(len(k), dtype=bool)
    cut[1:-1] = p_sorted[:-1] != p_sorted[1:]
    upper = np.concatenate([[np.inf], p_sorted])  # score of the last contacted lead
    lower = np.concatenate([p_sorted, [-np.inf]])  # score of the first lead left out
    if len(p) == 0:
        return pd.DataFrame({"contacted": [0], "share": [0.0], "threshold": [1.0], "profit": [0.0]})
    with np.errstate(invalid="ignore"):
        middle = (upper + lower) / 2
    # Adjacent floats have no representable midpoint: then cut right at the upper score.
    middle = np.where(middle > lower, middle, upper)
    threshold = np.where(
        np.isinf(upper), np.nextafter(1.0, 2.0), np.where(np.isinf(lower), p_sorted[-1], middle)
    )
    return pd.DataFrame(
        {
            "contacted": k[cut],
            "share": k[cut] / max(len(p), 1),
            "threshold": threshold[cut],
            "profit": profits[cut].astype(float),
        }
    )


@dataclass(frozen=True)
class ThresholdChoice:
    """The contact threshold and the profit it earns next to the two naive policies."""

    threshold: float
    profit: float
    contacted: int
    n_leads: int
    contact_all_profit: float
    contact_none_profit: float
    default_threshold_profit: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def choose_threshold(
    y: np.ndarray,
    p: np.ndarray,
    business: Business,
    sample_weight: np.ndarray | None = None,
) -> ThresholdChoice:
    """The threshold that maximises profit on (out-of-fold) probabilities ``p``; with
    ``sample_weight`` the profit is a weighted sum (each lead stands for that many).

    Example
    -------
    >>> choice = choose_threshold(np.array([0, 0, 1, 1]), np.array([.1, .2, .7, .9]), Business())
    >>> choice.contacted, choice.profit
    (2, 210.0)
    """
    curve = profit_curve(y, p, business, sample_weight)
    best = curve.loc[curve["profit"].idxmax()]
    return ThresholdChoice(
        threshold=float(best["threshold"]),
        profit=float(best["profit"]),
        contacted=int(best["contacted"]),
        n_leads=len(p),
        contact_all_profit=float(curve["profit"].iloc[-1]),
        contact_none_profit=float(curve["profit"].iloc[0]),
        default_threshold_profit=profit_of(y, np.asarray(p) >= 0.5, business, sample_weight),
    )


@dataclass(frozen=True)
class Decisions:
    """Per lead: score 0–100, segment and whether to contact (:meth:`Cutoffs.decide`)."""

    score_100: np.ndarray
    segment: np.ndarray
    contact: np.ndarray


@dataclass(frozen=True)
class Cutoffs:
    """Probability cutoffs: contact at ``contact``, hot from ``hot``, warm from ``warm``."""

    contact: float
    hot: float
    warm: float

    def segment(self, p: np.ndarray) -> np.ndarray:
        """``"hot"``, ``"warm"`` or ``"cold"`` for every probability."""
        p = np.asarray(p, dtype=float)
        return np.where(p >= self.hot, "hot", np.where(p >= self.warm, "warm", "cold"))

    def decide(self, p: np.ndarray, capacity: int | None = None) -> Decisions:
        """What a sales team does with each calibrated probability: the score on 0–100,
        the segment, and whether to contact the lead — at or above the contact threshold,
        or, with ``capacity``, only the ``capacity`` best of these leads. The one place
        this is decided: batch scoring and the real-time scorer both ask here.

        Example
        -------
        >>> cut = Cutoffs(contact=0.1, hot=0.5, warm=0.1)
        >>> d = cut.decide(np.array([0.62, 0.2, 0.04]))
        >>> d.score_100.tolist(), d.segment.tolist(), d.contact.tolist()
        ([62, 20, 4], ['hot', 'warm', 'cold'], [True, True, False])
        """
        p = np.asarray(p, dtype=float)
        contact = select_top(p, capacity) if capacity else p >= self.contact
        return Decisions(np.rint(p * 100).astype(int), self.segment(p), contact)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


#: a segment should hold at least this share of the leads (and MIN_SEGMENT_LEADS of them)
MIN_SEGMENT_SHARE = 0.02
MIN_SEGMENT_LEADS = 10


def derive_cutoffs(p_oof: np.ndarray, threshold: float, segments: Segments) -> Cutoffs:
    """Hot/warm/cold cutoffs from the contact threshold and the training score spread.

    Cold is below the contact threshold (not worth a call), hot is the top
    ``hot_share`` of leads as scored out of fold (and worth a call), warm is in between.
    When fewer leads than the top ``hot_share`` are worth a call, hot is the better half
    of those that are, so warm is never empty while there are leads enough for it (see
    :func:`segment_note` for when there are not). Fixed cutoffs in ``segments`` win.

    Example
    -------
    >>> p = np.linspace(0, 1, 1001)
    >>> cut = derive_cutoffs(p, threshold=0.9, segments=Segments(hot_share=0.2))
    >>> round(cut.warm, 2), round(cut.hot, 2)  # the top 20 % lie below 0.9: split those above
    (0.9, 0.95)
    """
    p = np.asarray(p_oof, dtype=float)
    warm = segments.warm_cutoff if segments.warm_cutoff is not None else threshold
    if segments.hot_cutoff is not None:
        hot = segments.hot_cutoff
    else:
        hot = float(np.quantile(p, 1 - segments.hot_share))
        worth = np.sort(p[p >= warm])
        if hot <= warm and len(worth) >= 2 * _min_leads(len(p)):
            hot = float(np.quantile(worth, 0.5, method="higher"))
            if hot <= warm:  # ties at the threshold: the first score above it
                higher = worth[worth > warm]
                hot = float(higher[0]) if len(higher) else hot
    hot = max(hot, warm)
    return Cutoffs(contact=float(threshold), hot=float(hot), warm=float(warm))


def _min_leads(n: int) -> int:
    return max(MIN_SEGMENT_LEADS, int(np.ceil(MIN_SEGMENT_SHARE * n)))


def segment_shares(p: np.ndarray, cutoffs: Cutoffs) -> dict[str, float]:
    """Share of the leads in each segment."""
    labels = cutoffs.segment(np.asarray(p, dtype=float))
    return {name: float(np.mean(labels == name)) if len(labels) else 0.0 for name in SEGMENTS}


def segment_note(p_oof: np.ndarray, cutoffs: Cutoffs) -> str | None:
    """What a sales team should know when the training leads leave a segment (nearly)
    empty: the data cannot support three segments, or fixed cutoffs leave one out."""
    p = np.asarray(p_oof, dtype=float)
    shares = segment_shares(p, cutoffs)
    thin = [name for name in SEGMENTS if shares[name] * len(p) < _min_leads(len(p))]
    if not thin:
        return None
    worth = shares["hot"] + shares["warm"]
    described = ", ".join(f"{name} {shares[name]:.1%}" for name in SEGMENTS)
    if "warm" in thin and worth * len(p) < 2 * _min_leads(len(p)):
        return (
            f"only {worth:.1%} of the training leads are worth a call at these values, too "
            f"few to split into hot and warm ({described})"
        )
    if "cold" in thin and cutoffs.warm <= float(p.min()):
        return (
            f"calling every lead pays at these values, so no lead is cold ({described}); "
            "raise cost_per_contact or set warm_cutoff to mark the least promising"
        )
    return f"segment {', '.join(thin)} holds (almost) no training leads ({described})"


def select_top(scores: np.ndarray, capacity: int) -> np.ndarray:
    """Contact mask for a team that can call ``capacity`` leads: the highest scores win."""
    scores = np.asarray(scores, dtype=float)
    mask = np.zeros(len(scores), dtype=bool)
    if capacity > 0:
        mask[np.argsort(-scores, kind="stable")[:capacity]] = True
    return mask
