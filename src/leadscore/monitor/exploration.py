"""Exploration: contact a random few of the leads below the cut-off, and use them to judge
the model on every lead, not only on the ones it chose.

A team that calls only the top-scored leads learns outcomes only for those, so any
evaluation on outcomes (and the next model trained on them) sees a sample the model picked
itself: it confirms itself. :func:`explore` draws a share (default 5 %) of the leads the
model would leave alone, at random and per lead, and gives every lead its *propensity*, the
chance the policy contacts it (1 for the model's contacts, ``share`` below the cut-off).
:func:`ipw_performance` then weights each contacted lead with an outcome by 1 / propensity
(inverse-propensity weighting): an explored lead stands for the ``1 / share`` leads like it
that nobody called, and the weighted sample estimates the whole population.

Example
-------
>>> chosen = explore(["a", "b", "c", "d"], np.array([True, True, False, False]), share=0.5)
>>> chosen.propensity.tolist()
[1.0, 1.0, 0.5, 0.5]
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from leadscore.config import Business
from leadscore.jsonutil import jsonable

#: the share of below-cut-off leads contacted on purpose unless a setting says otherwise
DEFAULT_SHARE = 0.05
#: the draw keeps 53 bits of the hash: exactly what a float64 in [0, 1) can hold
_DRAW_BITS = 53


def uniform_draws(lead_ids: Sequence[str], seed: int | str = 0) -> np.ndarray:
    """One number in [0, 1) per lead, fixed by the lead id and the seed alone.

    A BLAKE2b hash of the seed and the id (not Python's ``hash``, which changes per process),
    so re-scoring a lead never draws it again, and the API, a batch run and a Spark partition
    draw alike. The seed is read as text (``7`` and ``"7"`` draw the same) and so are the ids.

    Parameters
    ----------
    lead_ids:
        The leads' ids (no missing ids).
    seed:
        Selects an independent set of draws; change it to start a new exploration.

    Example
    -------
    >>> draws = uniform_draws(["L1", "L2", "L1"], seed=3)
    >>> bool(((draws >= 0) & (draws < 1)).all()), bool(draws[0] == draws[2])
    (True, True)
    """
    if isinstance(seed, bool) or not isinstance(seed, int | str):
        raise ValueError(f"seed must be an integer or a string, not {type(seed).__name__}")
    seed_text = str(seed)
    # the seed's length goes first, so no seed and id can run together into another pair
    prefix = f"{len(seed_text)}:{seed_text}:".encode()
    draws = np.empty(len(lead_ids), dtype=float)
    for position, lead_id in enumerate(lead_ids):
        if not isinstance(lead_id, str) and pd.isna(lead_id):
            raise ValueError(f"lead_ids has a missing id at position {position}")
        digest = hashlib.blake2b(prefix + str(lead_id).encode(), digest_size=8).digest()
        draws[position] = (int.from_bytes(digest, "big") >> (64 - _DRAW_BITS)) / 2**_DRAW_BITS
    return draws


@dataclass(frozen=True, eq=False)
class Exploration:
    """Which leads the policy contacts, and the chance it had of contacting each.

    Attributes
    ----------
    lead_ids:
        The leads, in the order given.
    share:
        The chance of a below-cut-off lead to be drawn.
    explored:
        Drawn for exploration: below the cut-off, contacted on purpose.
    contacted:
        Contacted: the model said so, or the lead was explored.
    propensity:
        The probability of being contacted under the policy: 1.0 where the model contacts,
        ``share`` below the cut-off, whether the lead was drawn or not.
    """

    lead_ids: np.ndarray
    share: float
    explored: np.ndarray
    contacted: np.ndarray
    propensity: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """One row per lead: ``lead_id, explored, contacted, propensity``.

        Example
        -------
        >>> explore(["a", "b"], np.array([True, False]), share=1.0).to_frame()
          lead_id  explored  contacted  propensity
        0       a     False       True         1.0
        1       b      True       True         1.0
        """
        return pd.DataFrame(
            {
                "lead_id": self.lead_ids,
                "explored": self.explored,
                "contacted": self.contacted,
                "propensity": self.propensity,
            }
        )


def _flags(values: Any, name: str, n: int) -> np.ndarray:
    """``values`` as a boolean array of length ``n``; a clear error for anything else."""
    array = np.asarray(values)
    if array.ndim != 1 or len(array) != n:
        raise ValueError(f"{name} has {array.size} values for {n} leads")
    if array.dtype.kind == "b":
        return array
    if array.dtype.kind in "iuf" and np.isin(array, (0, 1)).all():
        return array.astype(bool)
    raise ValueError(f"{name} must hold True/False (or 1/0) for every lead")


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def explore(
    lead_ids: Sequence[str],
    contact: np.ndarray,
    share: float = DEFAULT_SHARE,
    seed: int | str = 0,
) -> Exploration:
    """Draw ``share`` of the leads the model would not contact, to be contacted anyway.

    A lead below the cut-off is explored when its :func:`uniform_draws` number is below
    ``share``: the draw is random across leads but fixed for each lead and seed. Exploration
    costs contacts the model thinks unprofitable; it buys outcomes from every score range,
    without which no estimate of the model's performance on all leads is unbiased.

    Parameters
    ----------
    lead_ids:
        The leads' ids.
    contact:
        Whether the model contacts each lead (its decision at the cut-off or capacity).
    share:
        Chance of a lead below the cut-off to be explored, 0–1; 0 explores nothing.
    seed:
        Selects the draw (see :func:`uniform_draws`).

    Example
    -------
    >>> chosen = explore([f"L{i}" for i in range(1000)], np.zeros(1000, dtype=bool), 0.1)
    >>> int(chosen.explored.sum()), bool((chosen.contacted == chosen.explored).all())
    (112, True)
    """
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
        raise ValueError(f"share must be a number between 0 and 1, got {share!r}")
    ids = np.asarray([str(lead_id) for lead_id in lead_ids], dtype=object)
    model_contacts = _flags(contact, "contact", len(ids))
    draws = uniform_draws(list(lead_ids), seed)
    explored = ~model_contacts & (draws < share)
    propensity = np.where(model_contacts, 1.0, float(share))
    return Exploration(
        lead_ids=_read_only(ids),
        share=float(share),
        explored=_read_only(explored),
        contacted=_read_only(model_contacts | explored),
        propensity=_read_only(propensity),
    )


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
    was_contacted = _flags(contacted, "contacted", n)
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
    decision = _flags(contact, "contact", n) if contact is not None else None

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
