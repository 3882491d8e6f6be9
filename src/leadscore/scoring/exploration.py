"""Exploration: a random few of the leads below the contact cut-off are contacted anyway,
so the model keeps learning about the leads it would leave alone.

A team that calls only the top-scored leads learns outcomes only for those, so every
evaluation on outcomes (and the next model trained on them) sees a sample the model
picked itself: it confirms itself. :func:`explore` draws a share (default 5 %,
``[exploration] share``) of the leads the model would not contact, at random but fixed per
lead, and gives every lead its *propensity*, the chance the policy contacts it (1 for the
model's contacts, ``share`` below the cut-off). Scoring stores both beside each score;
monitoring weighs the outcomes by them (:mod:`leadscore.monitor.exploration`).

:class:`ExplorationPolicy` is what scoring applies: to a batch's scores
(:meth:`~ExplorationPolicy.apply`) and to one lead's contact decision
(:meth:`~ExplorationPolicy.decide`), the same draw either way.

Example
-------
>>> chosen = explore(["a", "b", "c", "d"], np.array([True, True, False, False]), share=0.5)
>>> chosen.propensity.tolist()
[1.0, 1.0, 0.5, 0.5]
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from leadscore.config import Settings

if TYPE_CHECKING:
    import pyarrow as pa

#: the share of below-cut-off leads contacted on purpose unless a setting says otherwise
DEFAULT_SHARE = 0.05
#: the draw keeps 53 bits of the hash: exactly what a float64 in [0, 1) can hold
_DRAW_BITS = 53
#: from this many ids the draws are hashed by the compiled kernel, not one ``hashlib`` call
#: each (measured: ``bench/batch_scoring.py --draws``)
COMPILED_FROM = 64


def uniform_draws(
    lead_ids: Sequence[str] | pa.Array | pa.ChunkedArray, seed: int | str = 0
) -> np.ndarray:
    """One number in [0, 1) per lead, fixed by the lead id and the seed alone.

    A BLAKE2b hash of the seed and the id (not Python's ``hash``, which changes per process),
    so re-scoring a lead never draws it again, and the API, a batch run and a Spark partition
    draw alike. The seed is read as text (``7`` and ``"7"`` draw the same) and so are the ids.
    From :data:`COMPILED_FROM` ids of text (a list of ``str`` or an Arrow string array) the
    hashes are computed by a compiled kernel (:mod:`leadscore.scoring.blake2`), the same
    digests as ``hashlib``'s to the bit.

    Parameters
    ----------
    lead_ids:
        The leads' ids (no missing ids): a sequence, or an Arrow array.
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
    arrow = _is_arrow(lead_ids)
    if arrow or len(lead_ids) >= COMPILED_FROM:
        texts = _arrow_texts(lead_ids, arrow)
        if texts is not None and len(texts) >= COMPILED_FROM:
            from leadscore.scoring.blake2 import blake2b_64

            digests = blake2b_64(texts, prefix)
            return (digests >> np.uint64(64 - _DRAW_BITS)).astype(np.float64) / 2**_DRAW_BITS
        if arrow:
            lead_ids = lead_ids.to_pylist()  # type: ignore[union-attr]
    draws = np.empty(len(lead_ids), dtype=float)
    for position, lead_id in enumerate(lead_ids):
        if not isinstance(lead_id, str) and pd.isna(lead_id):
            raise ValueError(f"lead_ids has a missing id at position {position}")
        digest = hashlib.blake2b(prefix + str(lead_id).encode(), digest_size=8).digest()
        draws[position] = (int.from_bytes(digest, "big") >> (64 - _DRAW_BITS)) / 2**_DRAW_BITS
    return draws


def _is_arrow(values: object) -> bool:
    # without importing pyarrow: the service's single-lead draws never need it
    return type(values).__module__.startswith("pyarrow")


def _arrow_texts(lead_ids: Any, arrow: bool) -> pa.Array | pa.ChunkedArray | None:
    """The ids as an Arrow string array for the compiled hash, or None where they are not
    all text (numbers, missing ids: the ``hashlib`` path reads or refuses them)."""
    import pyarrow as pa

    if arrow:
        kind = lead_ids.type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            return None
        if lead_ids.null_count:
            position = int(np.flatnonzero(lead_ids.is_null().to_numpy(zero_copy_only=False))[0])
            raise ValueError(f"lead_ids has a missing id at position {position}")
        return lead_ids  # type: ignore[no-any-return]
    if not all(isinstance(lead_id, str) for lead_id in lead_ids):
        return None
    try:
        return pa.array(lead_ids if isinstance(lead_ids, list) else list(lead_ids), pa.string())
    except (pa.ArrowException, UnicodeError):  # e.g. a lone surrogate: hashlib's error
        return None


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


def as_flags(values: Any, name: str, n: int) -> np.ndarray:
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
    model_contacts = as_flags(contact, "contact", len(ids))
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
class ExplorationPolicy:
    """Exploration as scoring applies it: ``share`` of the leads below the cut-off,
    drawn by ``seed`` (``[exploration]`` in the settings).

    Parameters
    ----------
    share:
        Chance of a lead below the cut-off to be contacted by exploration, 0–1; 0 turns
        exploration off (every propensity below the cut-off is then 0).
    seed:
        Selects the draw; a new seed starts a new exploration.

    Example
    -------
    >>> policy = ExplorationPolicy(share=0.5, seed="spring")
    >>> policy.decide("L1", contact=True)
    (True, False, 1.0)
    >>> scores = pd.DataFrame({"lead_id": ["L1", "L2", "L5"], "contact": [True, False, False]})
    >>> policy.apply(scores, "lead_id")[["contact", "explored", "propensity"]].values.tolist()
    [[True, False, 1.0], [False, False, 0.5], [True, True, 0.5]]
    """

    share: float = DEFAULT_SHARE
    seed: int | str = 0

    def __post_init__(self) -> None:
        share = self.share
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise ValueError(f"share must be a number between 0 and 1, got {share!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | str):
            raise ValueError(f"seed must be an integer or a string, not {self.seed!r}")

    @classmethod
    def from_settings(cls, settings: Settings) -> ExplorationPolicy:
        """The policy of the settings' ``[exploration]`` table."""
        return cls(share=settings.exploration.share, seed=settings.exploration.seed)

    def decide(self, lead_id: str, contact: bool) -> tuple[bool, bool, float]:
        """One lead: ``(contact, explored, propensity)`` given the model's contact."""
        if contact:
            return True, False, 1.0
        explored = bool(self.share > 0 and uniform_draws([lead_id], self.seed)[0] < self.share)
        return explored, explored, float(self.share)

    def apply(self, scores: pd.DataFrame, key: str) -> pd.DataFrame:
        """A copy of a batch's scores (``key``: the lead id column, ``contact``: the
        model's decision) with ``explored`` and ``propensity`` added and ``contact`` true
        for the explored leads."""
        chosen = explore(scores[key].astype(str).tolist(), scores["contact"].to_numpy(),
                         self.share, self.seed)  # fmt: skip
        out = scores.copy()
        out["contact"] = chosen.contacted
        out["explored"] = chosen.explored
        out["propensity"] = chosen.propensity
        return out
