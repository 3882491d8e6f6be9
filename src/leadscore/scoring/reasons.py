"""Reasons a salesperson can read: ``Came back the same day → +9``, ``Time on site: 26 min
(high) → +18``.

Each lead's contributions (see :mod:`leadscore.scoring.contributions`) become its top
positive and negative reasons in score points, worded by the one phrase builder
(:mod:`leadscore.scoring.phrases`) with what the model knows about each field
(:mod:`leadscore.scoring.field_facts`: its kind, unit, the training leads' quartiles for
low / typical / high, the data dictionary's words) and marked ``actionable`` when sales can
act on the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from leadscore.modeling.model import LeadModel
from leadscore.scoring.contributions import Contributions, contributions
from leadscore.scoring.field_facts import phrasebook
from leadscore.scoring.labels import humanise, unit_of
from leadscore.scoring.phrases import FieldFacts, Phrasebook, phrase, value_words


@dataclass(frozen=True)
class Reason:
    """One field's push on one lead's score: ``phrase`` says the field and the lead's value
    in words, ``value`` the value alone, ``actionable`` whether sales can act on it."""

    field: str
    value: str
    points: float
    phrase: str = ""
    actionable: bool = True

    @property
    def text(self) -> str:
        sign = "+" if self.points >= 0 else "−"
        said = self.phrase or f"{humanise(self.field)}: {self.value}"
        return f"{said} → {sign}{abs(self.points):.0f}"


def describe_value(value: object, quartiles: tuple[float, float] | None, unit: str = "") -> str:
    """A value as a person reads it, with its unit and low / typical / high for numbers
    (the phrase builder's :func:`~leadscore.scoring.phrases.value_words` for a field known
    by nothing else).

    Example
    -------
    >>> describe_value(1532.0, (43.0, 359.0), "s"), describe_value(None, None)
    ('26 min (high)', 'not given')
    """
    return value_words(FieldFacts("", "", unit=unit, quartiles=quartiles), value)


def quartiles_of(model: LeadModel) -> Phrasebook:
    """What reasons need to know about every field of ``model`` (:func:`phrasebook
    <leadscore.scoring.field_facts.phrasebook>`); as a mapping, the lower and upper quartile
    of every numeric field among the reference leads."""
    return phrasebook(model)


#: points a field must move a score by to be a reason at all
MIN_POINTS = 0.5


def select_reasons(
    points: np.ndarray,
    values: Sequence[object],
    fields: Sequence[str],
    quartiles: Phrasebook | Mapping[str, tuple[float, float]],
    k: int,
) -> tuple[list[Reason], list[Reason]]:
    """One lead's ``k`` strongest reasons up and ``k`` strongest down: the fields whose
    contributions (``points``, one per field) move its score most each way, by at least
    :data:`MIN_POINTS`, worded with the lead's own ``values`` and the facts of
    ``quartiles`` (a :class:`~leadscore.scoring.phrases.Phrasebook`, or just quartiles by
    field). The one place reasons are chosen: batch explanations and the real-time scorer
    both ask here.

    Example
    -------
    >>> up, down = select_reasons(np.array([12.0, -3.0, 0.2]), ["yes", "mobile", 4],
    ...                           ["returned", "device", "visits"], {}, 2)
    >>> [r.text for r in up], [r.text for r in down]
    (['Returned → +12'], ['Device: mobile → −3'])
    """
    book = quartiles if isinstance(quartiles, Phrasebook) else Phrasebook.from_quartiles(quartiles)
    k = min(k, len(points))
    order = np.argsort(-points)
    chosen = (
        [i for i in order[:k] if points[i] > MIN_POINTS],
        [i for i in order[::-1][:k] if points[i] < -MIN_POINTS],
    )
    sides: list[list[Reason]] = []
    for side in chosen:
        said = []
        for i in side:
            facts = book.facts(fields[i])
            words, whole = phrase(facts, values[i])
            said.append(Reason(fields[i], words, float(points[i]), whole, facts.actionable))
        sides.append(said)
    return sides[0], sides[1]


def reasons(
    model: LeadModel, X: pd.DataFrame, k: int = 3, explained: Contributions | None = None
) -> list[tuple[list[Reason], list[Reason]]]:
    """For every lead, its ``k`` strongest reasons up and ``k`` strongest reasons down.

    Example
    -------
    >>> up, down = reasons(model, leads.head(1))[0]
    >>> [r.text for r in up]
    ['Returned the same day → +1', 'Source: direct → +1', 'Visits: 3 (typical) → +1']
    """
    explained = explained or contributions(model, X)
    points = explained.points()
    values = model.schema_.conform(X).to_numpy(dtype=object)
    quartiles = quartiles_of(model)
    fields = explained.fields
    return [
        select_reasons(points[row], values[row], fields, quartiles, k)
        for row in range(points.shape[0])
    ]


def with_reasons(model: LeadModel, X: pd.DataFrame, scores: pd.DataFrame, k: int) -> pd.DataFrame:
    """``scores`` (from :meth:`LeadModel.score`, same row order as ``X``) with two columns:
    ``reasons_up`` and ``reasons_down``, the top ``k`` each, joined by ``; ``."""
    found = reasons(model, X, k)
    out = scores.copy()
    out["reasons_up"] = ["; ".join(r.text for r in up) for up, _ in found]
    out["reasons_down"] = ["; ".join(r.text for r in down) for _, down in found]
    return out


def reason_records(up: Sequence[Reason], down: Sequence[Reason]) -> list[dict[str, Any]]:
    """Reasons as JSON records (``field``, ``value``, ``points``, ``direction``, ``text``,
    ``actionable``), the form the score store and the API keep them in."""
    return [
        {"field": r.field, "value": r.value, "points": round(r.points, 2),
         "direction": direction, "text": r.text, "actionable": r.actionable}
        for side, direction in ((up, "up"), (down, "down"))
        for r in side
    ]  # fmt: skip


__all__ = [
    "MIN_POINTS",
    "Reason",
    "describe_value",
    "humanise",
    "quartiles_of",
    "reason_records",
    "reasons",
    "select_reasons",
    "unit_of",
    "with_reasons",
]
