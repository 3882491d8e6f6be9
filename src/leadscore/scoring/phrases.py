"""The one phrase builder: a field, a lead's value and what the model knows → words.

Every reason (batch and real time), finding and ideal-customer cell is worded here:

* yes/no fields (booleans, 0/1 flags, yes/no categories) read as statements by their
  meaning: ``returned_same_day`` → "Returned the same day" / "Did not return the same
  day"; where the name does not say it as a statement, the flag is named by its meaning:
  ``first_visit_business_hours`` → "First visit in business hours: no";
* units only where they are units (a name's last word, ``time_on_site_s``, or first,
  ``hours_to_return``), and durations in the unit a person would use ("26 min");
* numbers to meaningful figures (2.734 → 2.7, 23.76 → 24) and ranges to the precision of
  their upper end (0.773–16.04 hours → "1–16 hours", 0–16 → "up to 16 hours");
* a date by what the model uses of it, the weekday and hour ("Created on a Tuesday at
  12:00"), never a calendar date; an hour field reads "19:00", a weekday field "Friday";
* a missing value by what it means where that is known ("No return yet" for
  ``hours_to_return``, or the data dictionary's words), else "not given";
* a category by its level, a level that is a number code by its label in the data
  dictionary, else "level 6"; known acronyms cased ("OS", "URL").

Field names become labels in :mod:`leadscore.scoring.labels`.

:class:`FieldFacts` is what is known about one field (from the model's data and the data
dictionary, see :mod:`leadscore.scoring.field_facts`); :class:`Phrasebook` holds them for
every field of a model.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from leadscore.scoring.labels import flag_statements, humanise, missing_words, truth, unit_of

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: seconds in each duration unit
SECONDS = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, "days": 86400.0}
NOT_GIVEN = "not given"


# ----------------------------------------------------------------------------- numbers


def _fixed(number: float, decimals: int) -> str:
    """``number`` with ``decimals`` places and thousands separators, halves rounded away
    from zero (12.5 → 13, as people round; Python's own format rounds to even)."""
    scale = 10**decimals
    whole = math.floor(abs(number) * scale + 0.5)
    return f"{'-' if number < 0 and whole else ''}{whole / scale:,.{decimals}f}"


def figures(number: float) -> str:
    """A number to meaningful figures: whole numbers with thousands separators from 10 on,
    two significant figures below.

    Example
    -------
    >>> figures(1532.0), figures(23.76), figures(2.734), figures(0.1273), figures(-0.5)
    ('1,532', '24', '2.7', '0.13', '-0.5')
    >>> figures(2.2250738585072014e-308), figures(1e300)[:5]
    ('2.2e-308', '1,000')
    """
    number = float(number)
    if not math.isfinite(number):
        return str(number)
    if number.is_integer():
        return f"{int(number):,}"
    if abs(number) >= 10:
        return _fixed(number, 0)
    if abs(number) < 0.001:  # no one reads 0.0000021: two figures, in powers of ten
        return f"{number:.2g}"
    decimals = max(0, 1 - math.floor(math.log10(abs(number))))
    text = _fixed(number, decimals)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _duration_unit(seconds: float) -> str:
    size = abs(seconds)
    # below two of the next unit up: "90 s" and "75 min" read better than "1.5 min", "1.2 h"
    return "s" if size < 120 else "min" if size < 7200 else "h" if size < 48 * 3600 else "days"


def _unit_words(unit: str, shown: str) -> str:
    if unit == "h":
        return "hour" if shown == "1" else "hours"
    if unit == "days":
        return "day" if shown == "1" else "days"
    return unit


def number_words(number: float, unit: str = "") -> str:
    """A number with its unit; a duration in the unit a person would use.

    Example
    -------
    >>> number_words(1532, "s"), number_words(2.73, "h"), number_words(12.5, "%")
    ('26 min', '2.7 hours', '13 %')
    """
    if unit in SECONDS:
        seconds = float(number) * SECONDS[unit]
        shown_unit = _duration_unit(seconds)
        shown = figures(seconds / SECONDS[shown_unit])
        return f"{shown} {_unit_words(shown_unit, shown)}"
    shown = figures(number)
    return f"{shown} %" if unit == "%" else f"{shown} {unit}" if unit else shown


def range_words(low: float, high: float, unit: str = "") -> str:
    """A range to the precision of its upper end: ``(0.773, 16.04, "h")`` → ``1–16 hours``;
    one that starts at zero reads "up to".

    Example
    -------
    >>> range_words(0.773, 16.04, "h"), range_words(0, 45, "min"), range_words(3, 5)
    ('1–16 hours', 'up to 45 min', '3–5')
    """
    scale, shown_unit = 1.0, unit
    if unit in SECONDS:
        shown_unit = _duration_unit(max(abs(low), abs(high)) * SECONDS[unit])
        scale = SECONDS[unit] / SECONDS[shown_unit]
    lo, hi = low * scale, high * scale
    top = max(abs(lo), abs(hi))
    whole = float(lo).is_integer() and float(hi).is_integer()
    decimals = 0 if top >= 10 or top == 0 or whole else max(0, 1 - math.floor(math.log10(top)))

    def shown(value: float) -> str:
        text = _fixed(value, decimals)
        text = text.rstrip("0").rstrip(".") if "." in text else text
        return "0" if float(text.replace(",", "")) == 0 else text

    lo_text, hi_text = shown(lo), shown(hi)
    if lo_text == "0" and lo >= 0 and hi > 0:
        text = f"up to {hi_text}"
    elif lo_text == hi_text:
        text = hi_text
    else:
        text = f"{lo_text} to {hi_text}" if lo < 0 else f"{lo_text}–{hi_text}"
    if shown_unit in SECONDS:
        return f"{text} {_unit_words(shown_unit, hi_text)}"
    return f"{text} %" if shown_unit == "%" else f"{text} {shown_unit}" if shown_unit else text


# ----------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class FieldFacts:
    """What is known about one field, for wording it.

    ``kind`` is ``numeric``, ``flag`` (yes/no), ``categorical``, ``datetime``, ``hour``
    (0–23), ``weekday`` (0 = Monday) or ``auto`` (decided by each value: a field known
    only by its name); ``yes``/``no`` are a flag's statements, ``levels`` code → words,
    ``missing`` what an empty value means.
    """

    field: str
    label: str
    kind: str = "auto"
    unit: str = ""
    quartiles: tuple[float, float] | None = None
    actionable: bool = True
    levels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    yes: str = ""
    no: str = ""
    missing: str = ""


def default_facts(name: str, quartiles: tuple[float, float] | None = None) -> FieldFacts:
    """What a field's name alone says (the kind is decided by each value).

    Example
    -------
    >>> default_facts("hours_to_demo_request").missing
    'No demo request yet'
    """
    return FieldFacts(
        name, humanise(name), unit=unit_of(name), quartiles=quartiles, missing=missing_words(name)
    )


def is_missing(value: Any) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _code(value: Any) -> str:
    """A level's code as a dictionary writes it: 1.0 → ``"1"``."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _as_number(value: Any) -> float | None:
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return None


def _level_words(facts: FieldFacts, value: Any) -> str:
    code = _code(value)
    if code in facts.levels:
        return facts.levels[code]
    try:
        number = float(code)
    except ValueError:
        return code
    return f"level {figures(number) if math.isfinite(number) else code}"


def _kind(facts: FieldFacts, value: Any) -> str:
    if facts.kind != "auto":
        return facts.kind
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return "datetime"
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, str) and truth(value) is not None):
        return "flag"
    return "numeric" if _as_number(value) is not None else "categorical"


def _flag_statement(facts: FieldFacts, said: bool) -> str:
    for code, words in facts.levels.items():
        if truth(code) is said:
            return words
    yes, no = (facts.yes, facts.no) if facts.yes and facts.no else flag_statements(facts.label)
    return yes if said else no


def _stamp(value: Any) -> pd.Timestamp | None:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    return None if stamp is pd.NaT else stamp


def _weekday_hour(stamp: pd.Timestamp) -> str:
    """What a model uses of a time: the weekday and the hour (``Tuesday at 12:00``)."""
    return f"{WEEKDAYS[stamp.weekday()]} at {stamp.hour:02d}:00"


def date_label(label: str) -> str:
    """A date field's label before "on a Tuesday": ``Created at`` → ``Created``."""
    return re.sub(r"\s+(at|on|date|time|timestamp|datetime)$", "", label, flags=re.I) or label


def phrase(facts: FieldFacts, value: Any, *, compare: bool = True) -> tuple[str, str]:
    """The value alone and the whole phrase, worded once (what a reason shows as its
    ``value`` and its text): see :func:`value_words` and :func:`statement`.

    Example
    -------
    >>> phrase(default_facts("hours_to_return"), 2.73)
    ('2.7 hours', 'Time to return: 2.7 hours')
    """
    if is_missing(value):
        return NOT_GIVEN, facts.missing or f"{facts.label}: {NOT_GIVEN}"
    kind = _kind(facts, value)
    if kind == "flag":
        said = truth(value)
        if said is not None:
            return ("yes" if said else "no"), _flag_statement(facts, said)
    elif kind == "datetime":
        stamp = _stamp(value)
        if stamp is not None:
            when = _weekday_hour(stamp)
            return when, f"{date_label(facts.label)} on a {when}"
    words = _words(facts, kind, value, compare)
    return words, f"{facts.label}: {words}"


def _words(facts: FieldFacts, kind: str, value: Any, compare: bool) -> str:
    """A present value that is not a yes/no nor a readable time, in words."""
    number = _as_number(value)
    if kind in ("flag", "datetime"):  # neither yes/no nor a time: as it is
        return figures(number) if number is not None else str(value)  # a flag's median 0.5
    if kind == "categorical" or number is None:
        return _level_words(facts, value)
    if facts.levels and _code(number) in facts.levels:
        return facts.levels[_code(number)]
    if kind == "hour" and 0 <= number < 24:
        return f"{int(number):02d}:00"
    if kind == "weekday" and 0 <= number < 7:
        return WEEKDAYS[int(number)]
    text = number_words(number, facts.unit)
    if compare and facts.quartiles is not None and facts.quartiles[0] < facts.quartiles[1]:
        low, high = facts.quartiles
        text += " (low)" if number < low else " (high)" if number > high else " (typical)"
    return text


def value_words(facts: FieldFacts, value: Any, *, compare: bool = True) -> str:
    """A value alone as a person reads it (``yes``, ``26 min (high)``, ``Friday``,
    ``Friday at 19:00``, ``level 6``, ``not given``); with ``compare``, a number is marked
    low / typical / high against the training leads' quartiles.

    Example
    -------
    >>> value_words(FieldFacts("t", "Time on site", "numeric", "s", (43.0, 359.0)), 1532.0)
    '26 min (high)'
    """
    return phrase(facts, value, compare=compare)[0]


def statement(facts: FieldFacts, value: Any, *, compare: bool = True) -> str:
    """The field and the value in one phrase: ``Returned the same day``, ``OS: Mac OS X``,
    ``Time on site: 26 min (high)``, ``Created on a Tuesday at 12:00``, ``No return yet``.

    Example
    -------
    >>> statement(FieldFacts("os", "OS", "categorical"), "Mac OS X")
    'OS: Mac OS X'
    >>> statement(default_facts("hours_to_return"), None)
    'No return yet'
    """
    return phrase(facts, value, compare=compare)[1]


def range_statement(facts: FieldFacts, low: float, high: float) -> str:
    """A field within a range of values: ``Time to demo request: 1–16 hours``.

    Example
    -------
    >>> range_statement(default_facts("hours_to_demo_request"), 0.773, 16.04)
    'Time to demo request: 1–16 hours'
    """
    if low == high:
        return statement(facts, low, compare=False)
    if facts.kind == "hour":
        return f"{facts.label}: {int(low):02d}:00–{int(high):02d}:59"
    if facts.kind == "weekday" and 0 <= low < high < 7:
        return f"{facts.label}: {WEEKDAYS[int(low)]}–{WEEKDAYS[int(high)]}"
    return f"{facts.label}: {range_words(low, high, facts.unit)}"


# ----------------------------------------------------------------------------- the book


class Phrasebook(Mapping[str, tuple[float, float]]):
    """The facts of every field of a model; as a mapping, numeric field → its training
    leads' (lower, upper) quartiles, which reasons compare values with.

    Example
    -------
    >>> book = Phrasebook.from_quartiles({"visits": (2.0, 5.0)})
    >>> dict(book), book.facts("os").label
    ({'visits': (2.0, 5.0)}, 'OS')
    """

    def __init__(self, facts: Mapping[str, FieldFacts] | None = None) -> None:
        self._facts = dict(facts or {})
        self._quartiles = {
            name: f.quartiles for name, f in self._facts.items() if f.quartiles is not None
        }

    @classmethod
    def from_quartiles(cls, quartiles: Mapping[str, tuple[float, float]]) -> Phrasebook:
        """A book of fields known by name, with the quartiles given."""
        return cls({name: default_facts(name, tuple(q)) for name, q in quartiles.items()})  # type: ignore[arg-type]

    def facts(self, field: str) -> FieldFacts:
        """The facts of ``field`` (what its name says, for a field the book lacks)."""
        found = self._facts.get(field)
        return found if found is not None else default_facts(field)

    def __getitem__(self, field: str) -> tuple[float, float]:
        return self._quartiles[field]

    def __iter__(self) -> Iterator[str]:
        return iter(self._quartiles)

    def __len__(self) -> int:
        return len(self._quartiles)

    def __reduce__(self) -> tuple[Any, tuple[dict[str, dict[str, Any]]]]:
        # plain data in the pickle (a saved scorer holds a book): a later FieldFacts that
        # gains or loses a field still reads it
        plain = {name: dataclasses.asdict(f) for name, f in self._facts.items()}
        return (_rebuilt, (plain,))


def _rebuilt(plain: Mapping[str, Mapping[str, Any]]) -> Phrasebook:
    known = {f.name for f in dataclasses.fields(FieldFacts)}
    return Phrasebook(
        {name: FieldFacts(**{k: v for k, v in parts.items() if k in known})
         for name, parts in plain.items()}
    )  # fmt: skip


__all__ = [
    "FieldFacts",
    "Phrasebook",
    "default_facts",
    "figures",
    "flag_statements",
    "humanise",
    "number_words",
    "phrase",
    "range_statement",
    "range_words",
    "statement",
    "truth",
    "unit_of",
    "value_words",
]
