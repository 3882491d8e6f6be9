"""What a model knows about each input field, so that reasons and findings can word it.

:func:`phrasebook` gathers per model input the :class:`~leadscore.scoring.phrases.FieldFacts`
the phrase builder needs: the label, the kind (a field of only 0 and 1, or of yes/no
levels, is a flag; ``…_hour`` of 0–23 an hour of day; ``…_weekday`` of 0–6 a weekday),
the unit, the training leads' quartiles, whether sales can act on it, and what the data
dictionary says (``model.metadata_["dictionary"]``, recorded by ``leadscore train
--dictionary FILE``), which wins over what the names suggest.

Without a dictionary, whether sales can act on a field comes from its name: behaviour —
visits, pages, time on site, demo requests, returns — is actionable; who the lead is and
where and when it came from — country, device, industry, job title, source, the time it
was created — is not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from leadscore.modeling.model import LeadModel
from leadscore.scoring.labels import (
    UNITS,
    flag_label,
    flag_statements,
    humanise,
    missing_words,
    name_words,
    truth,
    unit_of,
)
from leadscore.scoring.phrases import FieldFacts, Phrasebook

#: name words of what sales cannot change: who the lead is, where and when it came from
NOT_ACTIONABLE = frozenset({
    "country", "countries", "city", "region", "state", "province", "zip", "postcode", "postal",
    "geo", "location", "timezone", "tz", "language", "locale", "local", "device", "devices",
    "os", "browser", "platform", "agent", "screen", "resolution", "ip", "industry", "sector",
    "vertical", "company", "employees", "revenue", "job", "title", "seniority", "role",
    "occupation", "specialization", "specialisation", "gender", "age", "source", "sources",
    "medium", "campaign", "referrer", "utm", "channel", "origin", "landing", "touch", "hear",
    "heard", "hour", "weekday", "weekend", "month", "business", "created", "seen",
})  # fmt: skip
#: name words of counts: a count that happens to be 0 or 1 in the training leads is no flag
COUNT_WORDS = frozenset({
    "count", "counts", "number", "num", "nb", "n", "total", "views", "visits", "pages",
    "sessions", "events", "clicks", "downloads", "journey", "steps", "sources", "days", "opens",
})  # fmt: skip
#: leads with a value needed before quartiles mean anything
MIN_VALUES = 10


def default_actionable(name: str, kind: str, creation: bool = False) -> bool:
    """Whether sales can act on a field, judged by its name and kind (see the module).

    Example
    -------
    >>> default_actionable("demo_request_count", "numeric")
    True
    >>> default_actionable("country", "categorical"), default_actionable("first_seen", "datetime")
    (False, False)
    """
    if creation or kind in ("datetime", "hour", "weekday"):
        return False
    words = name_words(name)
    if words[:2] == ["do", "not"]:  # "Do Not Email": the lead's wish, not sales' to change
        return False
    return not set(words) & NOT_ACTIONABLE


def _numeric_kind(name: str, values: pd.Series | None) -> str:
    if values is None:
        return "numeric"
    present = pd.to_numeric(values, errors="coerce").dropna()
    if present.empty:
        return "numeric"
    distinct = set(np.unique(present.to_numpy(dtype=float)).tolist())
    words = name_words(name)
    whole = all(float(v).is_integer() for v in distinct)
    if distinct <= {0.0, 1.0} and not set(words) & COUNT_WORDS:
        return "flag"
    if words[-1:] == ["hour"] and whole and distinct <= set(map(float, range(24))):
        return "hour"
    weekday = words[-1:] in (["weekday"], ["dow"]) or words[-3:] == ["day", "of", "week"]
    if weekday and whole and distinct <= set(map(float, range(7))):
        return "weekday"
    return "numeric"


def _quartiles(values: pd.Series | None) -> tuple[float, float] | None:
    if values is None or not pd.api.types.is_numeric_dtype(values.dtype):
        return None
    if values.notna().sum() < MIN_VALUES:
        return None
    low, high = values.quantile([0.25, 0.75])
    return float(low), float(high)


def field_kind(
    name: str, kind: str, values: pd.Series | None = None, categories: Sequence[str] = ()
) -> str:
    """The phrase builder's kind of a field from the model's kind and its values.

    Example
    -------
    >>> field_kind("returned_same_day", "categorical", categories=["no", "yes"])
    'flag'
    >>> field_kind("first_visit_hour", "numeric", pd.Series([0.0, 13.0, 23.0]))
    'hour'
    """
    if kind == "datetime":
        return "datetime"
    if kind == "numeric":
        return _numeric_kind(name, values)
    levels = list(categories) or ([] if values is None else values.dropna().unique().tolist())
    if levels and all(truth(level) is not None for level in levels):
        return "flag"
    return "categorical"


def infer_facts(
    name: str,
    kind: str,
    values: pd.Series | None = None,
    categories: Sequence[str] = (),
    entry: Mapping[str, Any] | None = None,
    *,
    creation: bool = False,
) -> FieldFacts:
    """One field's facts: from its name, kind and training values, then the data
    dictionary's ``entry`` (label, unit, actionable, levels, missing) over them.

    Parameters
    ----------
    name:
        The field.
    kind:
        The model's kind: ``numeric``, ``categorical`` or ``datetime``.
    values:
        Its training (reference) leads' values, for flags, hours and quartiles.
    categories:
        The levels seen in training, for a categorical field.
    entry:
        What the data dictionary says (:meth:`FieldEntry.to_dict
        <leadscore.modeling.dictionary.FieldEntry.to_dict>`), if anything.
    creation:
        The field is the lead's creation time.

    Example
    -------
    >>> facts = infer_facts("returned_same_day", "numeric", pd.Series([0.0, 1.0]))
    >>> facts.kind, facts.yes, facts.no
    ('flag', 'Returned the same day', 'Did not return the same day')
    """
    said = dict(entry or {})
    phrase_kind = field_kind(name, kind, values, categories)
    label = str(said.get("label") or humanise(name))
    levels = {str(k): str(v) for k, v in (said.get("levels") or {}).items()}
    unit_text = str(said.get("unit") or "").strip()
    unit = UNITS.get(unit_text.lower(), unit_text) if unit_text else unit_of(name)
    yes = no = ""
    if phrase_kind == "flag":
        unit = ""
        label = flag_label(label)
        yes, no = flag_statements(label)
        for code, words in levels.items():
            if truth(code) is True:
                yes = words
            elif truth(code) is False:
                no = words
    actionable = said.get("actionable")
    return FieldFacts(
        field=name,
        label=label,
        kind=phrase_kind,
        unit=unit,
        quartiles=_quartiles(values) if phrase_kind == "numeric" else None,
        actionable=(
            default_actionable(name, phrase_kind, creation)
            if actionable is None
            else bool(actionable)
        ),
        levels=levels,
        yes=yes,
        no=no,
        missing=str(said.get("missing") or missing_words(name)),
    )


def described_fields(model: LeadModel) -> dict[str, dict[str, Any]]:
    """What the data dictionary given at training says of the model's fields."""
    recorded = (getattr(model, "metadata_", None) or {}).get("dictionary") or {}
    return dict(recorded.get("fields") or {})


def phrasebook(model: LeadModel) -> Phrasebook:
    """The facts of every input field of ``model`` (see the module).

    Example
    -------
    >>> book = phrasebook(model)
    >>> book.facts("returned_same_day").kind, book.facts("country").actionable
    ('flag', False)
    >>> sorted(book)  # numeric fields, with the quartiles reasons compare with
    ['pages_per_visit', 'time_on_site_s', 'visits']
    """
    described = described_fields(model)
    background = model.background_
    creation = getattr(model, "time_column_", None)
    facts = {}
    for spec in model.schema_.columns:
        values = background[spec.name] if spec.name in background.columns else None
        facts[spec.name] = infer_facts(
            spec.name, spec.kind, values, spec.categories, described.get(spec.name),
            creation=spec.name == creation,
        )  # fmt: skip
    return Phrasebook(facts)


__all__ = [
    "NOT_ACTIONABLE",
    "default_actionable",
    "described_fields",
    "field_kind",
    "infer_facts",
    "phrasebook",
]
