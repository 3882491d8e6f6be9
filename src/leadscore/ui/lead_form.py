"""A lead typed in by hand and scored by the served model (the "Score a lead" page; no
Streamlit here): the form's fields from the model's input schema, the values checked as
the API checks them, then the score, segment and reasons the API would answer. Nothing
is stored.

The fields come most important first (the held-out permutation importance ``train``
measured, else the schema's order), so the few that move the score are at the top of a
form that may have dozens. Every field may stay empty: unknown, as ``null`` in the API.

Example
-------
>>> fields = form_fields(model)
>>> values = parse_values(fields, {"visits": "3", "source": "google"})
>>> values["visits"], values["source"], values["time_on_site_s"]
(3.0, 'google', None)
>>> parse_values(fields, {"visits": "three"})
Traceback (most recent call last):
...
leadscore.errors.DataError: Visits: 'three' is not a number
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from leadscore.data.columns import ColumnKind
from leadscore.errors import DataError
from leadscore.explain.wording import field_label
from leadscore.modeling.model import LeadModel
from leadscore.scoring.realtime.scorer import FastResult, FastScorer
from leadscore.scoring.reasons import reason_records

#: the longest text a field takes (as the API)
MAX_TEXT = 1000
#: the levels a category's picker offers (the most common first)
MAX_LEVELS = 200
#: control characters other than tab, newline and carriage return (as the API refuses)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class FormField:
    """One input of the served model, as the form asks for it."""

    name: str
    kind: ColumnKind
    label: str
    levels: list[str] = field(default_factory=list)

    @property
    def hint(self) -> str:
        """What to type (a placeholder)."""
        if self.kind == "numeric":
            return "a number (empty: unknown)"
        if self.kind == "datetime":
            return "e.g. 2026-03-01 14:30 (UTC)"
        return "pick or type (empty: unknown)"


def form_fields(model: LeadModel) -> list[FormField]:
    """The model's inputs as form fields, the most important first.

    Parameters
    ----------
    model:
        The served model.
    """
    specs = list(model.schema_.columns)
    importance = getattr(model, "importance_", None)
    if importance is not None and len(importance):
        rank = {
            str(f): i
            for i, f in enumerate(importance.sort_values("importance", ascending=False)["feature"])
        }
        specs.sort(key=lambda spec: rank.get(spec.name, len(rank)))
    return [
        FormField(spec.name, spec.kind, field_label(spec.name), list(spec.categories[:MAX_LEVELS]))
        for spec in specs
    ]


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("not finite")
    return value


def _value(spec: FormField, raw: Any) -> Any:
    """One field's value as the model takes it; raises ValueError with the problem."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        return None
    if _CONTROL.search(text):
        raise ValueError("holds a control character")
    if len(text) > MAX_TEXT:
        raise ValueError(f"is {len(text):,} characters long; {MAX_TEXT:,} at most")
    if spec.kind == "numeric":
        try:
            return _number(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
    if spec.kind == "datetime":
        try:
            stamp = pd.Timestamp(text)
        except (ValueError, TypeError):
            stamp = pd.NaT
        if pd.isna(stamp):
            raise ValueError(f"{text!r} is not a date (e.g. 2026-03-01 or 2026-03-01 14:30)")
        return stamp.isoformat()
    return text


def parse_values(fields: Sequence[FormField], raw: Mapping[str, Any]) -> dict[str, Any]:
    """Every field's value from what was typed (empty or missing: ``None``, unknown);
    raises :class:`~leadscore.errors.DataError` naming each field at fault.

    Parameters
    ----------
    fields:
        The form's fields (:func:`form_fields`).
    raw:
        Field name → what was typed or picked.
    """
    values: dict[str, Any] = {}
    problems: list[str] = []
    for spec in fields:
        try:
            values[spec.name] = _value(spec, raw.get(spec.name))
        except ValueError as exc:
            problems.append(f"{spec.label}: {exc}")
    if problems:
        raise DataError("; ".join(problems))
    return values


def score_values(
    scorer: FastScorer, values: Mapping[str, Any], reasons: int = 3
) -> tuple[FastResult, list[dict[str, Any]]]:
    """The lead's score as the API gives it, and its reasons as the store keeps them.

    Parameters
    ----------
    scorer:
        The served model, compiled (:func:`leadscore.ui.web.scorer`).
    values:
        :func:`parse_values`' answer.
    reasons:
        Reasons each way.

    Example
    -------
    >>> scorer = FastScorer(model)
    >>> values = parse_values(form_fields(model), {"visits": "3"})
    >>> result, records = score_values(scorer, values)
    >>> 0 <= result.score_100 <= 100, {r["direction"] for r in records} <= {"up", "down"}
    (True, True)
    """
    result = scorer.score(dict(values), reasons=reasons)
    return result, reason_records(result.reasons_up, result.reasons_down)
