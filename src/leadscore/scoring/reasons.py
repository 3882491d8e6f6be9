"""Reasons a salesperson can read: ``Time on site: 1,532 s (high) → +18``.

Each lead's contributions (see :mod:`leadscore.scoring.contributions`) become its top
positive and negative reasons in score points, with the field's value and how it compares
with typical leads (low / typical / high against the training leads' quartiles).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from leadscore.modeling.model import LeadModel
from leadscore.scoring.contributions import Contributions, contributions


@dataclass(frozen=True)
class Reason:
    """One field's push on one lead's score."""

    field: str
    value: str
    points: float

    @property
    def text(self) -> str:
        sign = "+" if self.points >= 0 else "−"
        return f"{humanise(self.field)}: {self.value} → {sign}{abs(self.points):.0f}"


#: column-name suffixes that are units: ``time_on_site_s`` is a time in seconds
UNITS = {
    "s": "s", "sec": "s", "secs": "s", "seconds": "s", "ms": "ms", "min": "min",
    "mins": "min", "minutes": "min", "h": "h", "hours": "h", "days": "days", "pct": "%",
    "percent": "%",
}  # fmt: skip


def _split_unit(field: str) -> tuple[str, str]:
    if not (field.islower() and "_" in field):
        return field, ""
    stem, _, last = field.rpartition("_")
    return (stem, UNITS[last]) if stem and last in UNITS else (field, "")


def unit_of(field: str) -> str:
    """The unit a field's name ends in (``time_on_site_s`` → ``s``), else ``""``."""
    return _split_unit(field)[1]


def humanise(field: str) -> str:
    """``time_on_site_s`` → ``Time on site``; ``Lead Source`` stays as it is."""
    field = _split_unit(field)[0]
    if field.islower() or "_" in field:
        text = field.replace("_", " ").strip()
        return text[:1].upper() + text[1:]
    return field


def describe_value(value: object, quartiles: tuple[float, float] | None, unit: str = "") -> str:
    """The value as a person reads it, with its unit and low / typical / high for numbers."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return "not given"
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        text = f"{number:,.0f}" if number.is_integer() or abs(number) >= 100 else f"{number:,.2f}"
        if unit:
            text += unit if unit == "%" else f" {unit}"
        if quartiles is not None:
            low, high = quartiles
            level = "low" if number < low else "high" if number > high else "typical"
            return f"{text} ({level})"
        return text
    if isinstance(value, pd.Timestamp):
        return f"{value:%a %d %b, %H:%M}"  # weekday and hour are what the model uses
    return str(value)


def quartiles_of(model: LeadModel) -> dict[str, tuple[float, float]]:
    """Lower and upper quartile of every numeric field among the reference leads."""
    background = model.background_
    out = {}
    for field in background.columns:
        values = background[field]
        if pd.api.types.is_numeric_dtype(values.dtype) and values.notna().sum() >= 10:
            low, high = values.quantile([0.25, 0.75])
            out[field] = (float(low), float(high))
    return out


#: points a field must move a score by to be a reason at all
MIN_POINTS = 0.5


def select_reasons(
    points: np.ndarray,
    values: Sequence[object],
    fields: Sequence[str],
    quartiles: dict[str, tuple[float, float]],
    k: int,
) -> tuple[list[Reason], list[Reason]]:
    """One lead's ``k`` strongest reasons up and ``k`` strongest down: the fields whose
    contributions (``points``, one per field) move its score most each way, by at least
    :data:`MIN_POINTS`, described with the lead's own ``values``. The one place reasons are
    chosen: batch explanations and the real-time scorer both ask here.

    Example
    -------
    >>> up, down = select_reasons(np.array([12.0, -3.0, 0.2]), ["yes", "mobile", 4],
    ...                           ["returned", "device", "visits"], {}, 2)
    >>> [r.field for r in up], [r.field for r in down]
    (['returned'], ['device'])
    """
    k = min(k, len(points))
    order = np.argsort(-points)
    chosen = (
        [i for i in order[:k] if points[i] > MIN_POINTS],
        [i for i in order[::-1][:k] if points[i] < -MIN_POINTS],
    )
    up, down = (
        [
            Reason(fields[i], describe_value(values[i], quartiles.get(fields[i]),
                                            unit_of(fields[i])),
                   float(points[i]))
            for i in side
        ]
        for side in chosen
    )  # fmt: skip
    return up, down


def reasons(
    model: LeadModel, X: pd.DataFrame, k: int = 3, explained: Contributions | None = None
) -> list[tuple[list[Reason], list[Reason]]]:
    """For every lead, its ``k`` strongest reasons up and ``k`` strongest reasons down.

    Example
    -------
    >>> up, down = reasons(model, leads.head(1))[0]
    >>> [r.text for r in up]
    ['Returned same day: yes → +1', 'Source: direct → +1', 'Visits: 3 (typical) → +1']
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
    """Reasons as JSON records (``field``, ``value``, ``points``, ``direction``, ``text``),
    the form the score store and the API keep them in."""
    return [
        {"field": r.field, "value": r.value, "points": round(r.points, 2),
         "direction": direction, "text": r.text}
        for side, direction in ((up, "up"), (down, "down"))
        for r in side
    ]  # fmt: skip
