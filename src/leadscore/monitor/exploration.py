"""Judging the model on every lead, from the leads contacted, explored ones included.

Scoring explores (:mod:`leadscore.scoring.exploration`): a share of the leads below the
cut-off is contacted anyway, and every score carries its *propensity*, the chance the
policy had of contacting the lead. :func:`ipw_performance` weights each contacted lead
with an outcome by 1 / propensity (inverse-propensity weighting): an explored lead stands
for the ``1 / share`` leads like it that nobody called, and the weighted sample estimates
the whole population, where the plain (naive) figures describe only the leads the policy
chose.

Example
-------
>>> # two leads above the cut-off (propensity 1), one of two below explored (0.5)
>>> result = ipw_performance([1, 0, 1, None], [0.9, 0.7, 0.2, 0.1],
...     [True, True, True, False], [1.0, 1.0, 0.5, 0.5], Business())
>>> round(result.naive_rate, 3), result.corrected_rate
(0.667, 0.75)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from leadscore.config import Business
from leadscore.jsonutil import jsonable
from leadscore.scoring.exploration import as_flags


@dataclass(frozen=True)
class IpwPerformance:
    """The model's performance on the contacted leads with outcomes (naive) and on all
    leads (corrected, inverse-propensity weighted).

    Attributes
    ----------
    naive_auc, naive_rate, naive_profit_per_lead:
        Plain AUC, conversion rate and profit per lead over the contacted leads with an
        outcome. They describe the leads the policy chose, not all leads: below a cut-off
        the rate is too high and the AUC reflects a narrowed score range.
    corrected_auc, corrected_rate, corrected_profit_per_lead:
        The same with each lead weighted by 1 / propensity: estimates for every lead, as if
        all had been contacted. The rate is the Hájek estimate Σ w·y / Σ w. Unbiased (the
        ratios: consistent) only if every lead had a non-zero chance of contact.
    n_leads, n_contacted, n_explored, n_outcomes:
        Leads; contacted leads; contacted with propensity below 1; contacted with an
        outcome (the sample both estimates read).
    effective_n:
        Kish's effective sample size (Σ w)² / Σ w² of the sample: how many equally weighted
        leads the weighted sample is worth.
    every_lead_had_a_chance:
        Every lead's propensity is above 0; when false the corrected estimates cover only
        the leads that could be contacted.

    Estimates that are undefined (no outcome, or one class only for the AUC, or no contact
    decision for profit) are ``None``.
    """

    naive_auc: float | None
    corrected_auc: float | None
    naive_rate: float | None
    corrected_rate: float | None
    naive_profit_per_lead: float | None
    corrected_profit_per_lead: float | None
    n_leads: int
    n_contacted: int
    n_explored: int
    n_outcomes: int
    effective_n: float
    every_lead_had_a_chance: bool

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON values (no NaN)."""
        return jsonable(asdict(self))

    def to_frame(self) -> pd.DataFrame:
        """The two estimates as rows (``estimate, auc, rate, profit_per_lead``): naive
        first, then corrected.

        Example
        -------
        >>> ipw_performance([1, 0, None], [0.9, 0.2, 0.1], [True, True, False],
        ...     [1.0, 0.5, 0.5], Business()).to_frame()["estimate"].tolist()
        ['naive: contacted leads with outcomes only', 'corrected: every lead, weighted']
        """
        scope = "every lead, weighted" if self.every_lead_had_a_chance else "leads with a chance"
        return pd.DataFrame(
            {
                "estimate": ["naive: contacted leads with outcomes only", f"corrected: {scope}"],
                "auc": [self.naive_auc, self.corrected_auc],
                "rate": [self.naive_rate, self.corrected_rate],
                "profit_per_lead": [self.naive_profit_per_lead, self.corrected_profit_per_lead],
            }
        )

    def summary(self) -> list[str]:
        """The estimates as lines for people, each saying which kind it is.

        Example
        -------
        >>> ipw_performance([1, 0, None], [0.9, 0.2, 0.1], [True, True, False],
        ...     [1.0, 0.5, 0.5], Business()).summary()[0]
        'naive (contacted leads with outcomes only, ...): AUC 1.000, conversion 50.0 %'
        """
        if self.every_lead_had_a_chance:
            scope = "all leads, inverse-propensity weighted"
        else:
            scope = "weighted, but NOT all leads: some had no chance of contact"
        lines = [
            "naive (contacted leads with outcomes only, biased toward the policy): "
            + _figures(self.naive_auc, self.naive_rate, self.naive_profit_per_lead),
            f"corrected ({scope}): "
            + _figures(self.corrected_auc, self.corrected_rate, self.corrected_profit_per_lead),
        ]
        lines.append(
            f"{self.n_outcomes} outcomes from {self.n_contacted} contacted leads "
            f"({self.n_explored} explored) of {self.n_leads}; effective sample "
            f"{self.effective_n:.0f}"
        )
        return lines


def _figures(auc: float | None, rate: float | None, profit_per_lead: float | None) -> str:
    parts = [
        f"AUC {auc:.3f}" if auc is not None else "AUC n/a",
        f"conversion {100 * rate:.1f} %" if rate is not None else "conversion n/a",
    ]
    if profit_per_lead is not None:
        parts.append(f"profit per lead {profit_per_lead:.2f}")
    return ", ".join(parts)


def _outcomes(y: Any) -> np.ndarray:
    """The outcome as floats: 1, 0, or NaN where it is not known (None or NaN)."""
    try:
        values = np.asarray(y, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("y must hold 1/0 (or True/False) and None/NaN where unknown") from None
    if values.ndim != 1:
        raise ValueError(f"y must be one-dimensional, got shape {values.shape}")
    known = values[~np.isnan(values)]
    if not np.isin(known, (0.0, 1.0)).all():
        raise ValueError("y must hold only 1, 0 or a missing value (None/NaN)")
    return values


def _lead_profit(y: np.ndarray, contact: np.ndarray, business: Business) -> np.ndarray:
    """Each lead's share of :func:`leadscore.modeling.metrics.profit`: their sum is it."""
    reached = business.value_per_conversion - business.cost_per_contact
    return np.where(
        contact,
        np.where(y == 1, reached, -business.cost_per_contact),
        np.where(y == 1, -business.missed_conversion_cost, 0.0),
    )


def _auc(y: np.ndarray, p: np.ndarray, weight: np.ndarray | None) -> float | None:
    if len(np.unique(y)) < 2:
        return None
    return float(roc_auc_score(y, p, sample_weight=weight))


def ipw_performance(
    y: Any,
    p: Any,
    contacted: Any,
    propensity: Any,
    business: Business,
    contact: Any | None = None,
) -> IpwPerformance:
    """AUC, conversion rate and profit of the model on all leads, estimated from the
    contacted leads with outcomes by inverse-propensity weighting, beside the naive values.

    Only contacted leads with an outcome are read (an outcome of a lead nobody contacted had
    an unknown chance of being seen); a contacted lead still waiting for its outcome is
    assumed to be like those that have one. Each is weighted by w = 1 / propensity. The
    corrected estimates are unbiased only if every lead had a non-zero chance of contact:
    that is what exploration buys; without it the leads below the cut-off are simply absent
    and no weighting brings them back. Their variance grows as the share shrinks: an explored
    lead weighs 1 / share, so halving the share roughly doubles the variance of the part
    below the cut-off (``effective_n`` shows the loss).

    Parameters
    ----------
    y:
        Outcome per lead: 1/0 or True/False, None or NaN where it is not known.
    p:
        The model's score per lead (a probability, 0–1).
    contacted:
        Whether each lead was contacted (:attr:`Exploration.contacted`).
    propensity:
        Each lead's chance of contact under the policy (:attr:`Exploration.propensity`):
        within (0, 1] for the contacted leads, within [0, 1] for the others.
    business:
        Value and costs that define profit.
    contact:
        A contact decision per lead whose profit per lead to estimate (for instance the
        model's decision at its cut-off, or one at another cut-off); ``None`` leaves profit
        out.

    Example
    -------
    >>> result = ipw_performance([1, 0, 0, None], [0.9, 0.6, 0.2, 0.1],
    ...     [True, True, True, False], [1.0, 1.0, 0.25, 0.25], Business())
    >>> result.naive_rate, result.corrected_rate, round(result.effective_n, 2)
    (0.3333333333333333, 0.16666666666666666, 2.0)
    """
    outcome = _outcomes(y)
    n = len(outcome)
    try:
        scores = np.asarray(p, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("p must be numbers (the model's scores)") from None
    if scores.ndim != 1 or len(scores) != n:
        raise ValueError(f"p has {scores.size} values for {n} outcomes (y)")
    if np.isnan(scores).any() or ((scores < 0) | (scores > 1)).any():
        raise ValueError("p must be probabilities between 0 and 1, with no missing value")
    was_contacted = as_flags(contacted, "contacted", n)
    try:
        chance = np.asarray(propensity, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("propensity must be numbers (chances of contact)") from None
    if chance.ndim != 1 or len(chance) != n:
        raise ValueError(f"propensity has {chance.size} values for {n} leads")
    if np.isnan(chance).any() or ((chance < 0) | (chance > 1)).any():
        raise ValueError("propensity must be between 0 and 1 for every lead")
    if (chance[was_contacted] <= 0).any():
        raise ValueError("propensity must be above 0 for every contacted lead: it was contacted")
    decision = as_flags(contact, "contact", n) if contact is not None else None

    sample = was_contacted & ~np.isnan(outcome)
    y_seen, p_seen = outcome[sample].astype(int), scores[sample]
    weight = 1.0 / chance[sample]
    has_sample = bool(sample.any())
    naive_profit = corrected_profit = None
    if decision is not None and has_sample:
        per_lead = _lead_profit(y_seen, decision[sample], business)
        naive_profit = float(per_lead.mean())
        corrected_profit = float(np.average(per_lead, weights=weight))
    return IpwPerformance(
        naive_auc=_auc(y_seen, p_seen, None),
        corrected_auc=_auc(y_seen, p_seen, weight),
        naive_rate=float(y_seen.mean()) if has_sample else None,
        corrected_rate=float(np.average(y_seen, weights=weight)) if has_sample else None,
        naive_profit_per_lead=naive_profit,
        corrected_profit_per_lead=corrected_profit,
        n_leads=n,
        n_contacted=int(was_contacted.sum()),
        n_explored=int((was_contacted & (chance < 1)).sum()),
        n_outcomes=int(sample.sum()),
        effective_n=float(weight.sum() ** 2 / (weight**2).sum()) if has_sample else 0.0,
        every_lead_had_a_chance=bool((chance > 0).all()),
    )


def population_performance(
    window: pd.DataFrame, outcomes: pd.DataFrame, business: Business
) -> tuple[IpwPerformance | None, list[str]]:
    """:func:`ipw_performance` of a period's leads, read from the store's frames.

    Each lead scored in the period (``window``: its scores, oldest first, with
    ``contact``, ``explored``, ``propensity`` and ``scored_at``) at its last score there
    before its outcome, with its latest outcome if any (``outcomes``: ``lead_id,
    converted, occurred_at, contacted``). A lead counts as contacted when its outcome says
    so, or, where the outcome does not say, when its score said contact. A score stored
    before exploration has no propensity: 1 where it said contact, else 0 (no chance: the
    corrected figures then cover only the leads that had one, and say so). A lead
    contacted although the policy gave it no chance (sales chose it by hand) cannot be
    weighted and is left out of the sample, with a note. Returns None (and a note) when
    no contacted lead has an outcome yet.

    Example
    -------
    >>> t = pd.Timestamp("2026-05-04", tz="UTC")
    >>> window = pd.DataFrame({"lead_id": ["a", "b", "c"], "score": [0.9, 0.2, 0.1],
    ...     "contact": [True, True, False], "explored": [False, True, False],
    ...     "propensity": [1.0, 0.5, 0.5], "scored_at": [t, t, t]})
    >>> outcomes = pd.DataFrame({"lead_id": ["a", "b"], "converted": [True, False],
    ...     "occurred_at": [t + pd.Timedelta(days=9)] * 2, "contacted": [None, None]})
    >>> result, notes = population_performance(window, outcomes, Business())
    >>> result.n_leads, result.n_explored, result.corrected_rate
    (3, 1, 0.3333333333333333)
    """
    if window.empty:
        return None, []
    said = outcomes[["lead_id", "converted", "occurred_at", "contacted"]].drop_duplicates(
        "lead_id", keep="last"
    )
    frame = window.merge(said, on="lead_id", how="left")
    # the score that decided the contact came before the outcome; one after it knew it
    before = frame["occurred_at"].isna() | (frame["scored_at"] < frame["occurred_at"])
    return leads_performance(frame.loc[before].drop_duplicates("lead_id", keep="last"), business)


def leads_performance(
    frame: pd.DataFrame, business: Business
) -> tuple[IpwPerformance | None, list[str]]:
    """:func:`population_performance` of the period's leads read already: one row per lead
    at its last score of the period before its outcome (``score, contact, explored,
    propensity``), with that outcome (``converted`` NaN and ``contacted`` missing
    without one), in the order of those scores.

    Example
    -------
    >>> frame = pd.DataFrame({"score": [0.9, 0.2], "contact": [True, True],
    ...     "explored": [False, True], "propensity": [1.0, 0.5],
    ...     "converted": [1.0, None], "contacted": [None, None]})
    >>> leads_performance(frame, Business())[0].n_outcomes
    1
    """
    notes: list[str] = []
    if frame.empty:
        return None, notes
    contact = frame["contact"].astype(bool).to_numpy()
    explored = frame["explored"].fillna(False).astype(bool).to_numpy()
    chance = frame["propensity"].astype(float).to_numpy()
    chance = np.where(np.isnan(chance), np.where(contact, 1.0, 0.0), chance)
    told = frame["contacted"].astype("boolean")
    contacted = np.where(told.isna(), contact, told.fillna(False)).astype(bool)
    by_hand = contacted & (chance <= 0)
    if by_hand.any():
        notes.append(
            f"{int(by_hand.sum()):,} leads were contacted although the policy gave them no "
            "chance (chosen by hand): left out of the corrected estimate"
        )
        contacted = contacted & ~by_hand
    y = frame["converted"].astype(float).to_numpy()  # NaN: no outcome yet
    if not (contacted & ~np.isnan(y)).any():
        notes.append("no contacted lead of the period has an outcome yet: nothing to weigh")
        return None, notes
    result = ipw_performance(
        y, frame["score"].astype(float).to_numpy(), contacted, chance, business,
        contact=contact & ~explored,
    )  # fmt: skip
    if not result.every_lead_had_a_chance:
        notes.append(
            "some of the period's leads had no chance of contact (scored before exploration, "
            "or with exploration off): the corrected figures cover only the others"
        )
    return result, notes
