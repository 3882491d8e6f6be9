"""Findings: which fields separate converting leads, and sentences a sales manager reads.

:func:`field_strength` and :func:`rank_fields` order the conversion tables
(:mod:`leadscore.explain.conversion`) by how much of the outcome's variance lies between a
field's well-supported levels; :func:`findings` turns the strongest and weakest levels into
short, honest sentences ("“Came back the same day” converts best at 31.7 % (2.5× the
average; 24.5 % of leads)"), each level worded by the phrase builder
(:mod:`leadscore.scoring.phrases`) as a reason would word a lead with that value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from leadscore.explain.conversion import MISSING, OTHER
from leadscore.explain.wording import percent
from leadscore.scoring.field_facts import infer_facts
from leadscore.scoring.phrases import (
    FieldFacts,
    Phrasebook,
    date_label,
    range_statement,
    statement,
)

#: at most this many positive, negative and "few leads" sentences in :func:`findings`
MAX_STRONG, MAX_WEAK, MAX_FEW = 4, 3, 1
#: a share of leads below this is "only" that share in a finding
SMALL_SHARE = 0.05


def field_strength(table: pd.DataFrame, overall_rate: float) -> float:
    """How strongly a field separates converting leads: the share of the outcome's variance
    between its well-supported levels (eta², 0–1; ``too_small`` levels left out so that
    many tiny levels do not look informative by chance).

    Example
    -------
    >>> from leadscore.explain.conversion import conversion_by_level
    >>> t = conversion_by_level(pd.Series(["a"] * 50 + ["b"] * 50), [1] * 40 + [0] * 60)
    >>> round(field_strength(t, 0.4), 3)
    0.667
    """
    if not 0 < overall_rate < 1:
        return 0.0
    solid = table[~table["too_small"].astype(bool)]
    total = float(table["leads"].sum())
    between = float((solid["leads"] * (solid["rate"] - overall_rate) ** 2).sum())
    return between / (total * overall_rate * (1 - overall_rate)) if total else 0.0


def rank_fields(tables: Mapping[str, pd.DataFrame], overall_rate: float) -> list[str]:
    """Table names, the most informative first (:func:`field_strength`, ties by name).

    Example
    -------
    >>> from leadscore.explain.conversion import conversion_tables
    >>> y = (leads["converted"] == "yes").to_numpy()
    >>> kinds = {"source": "categorical", "visits": "numeric", "time_on_site_s": "numeric"}
    >>> rank_fields(conversion_tables(leads, y, kinds), y.mean())
    ['time_on_site_s', 'visits', 'source']
    """
    strength = {name: field_strength(table, overall_rate) for name, table in tables.items()}
    return sorted(tables, key=lambda name: (-strength[name], name))


@dataclass(frozen=True)
class _Level:
    """One row of one table, with what a sentence about it needs."""

    table: str
    kind: str
    level: str
    leads: int
    share: float
    rate: float
    lift: float
    ci_low: float
    ci_high: float
    best: bool
    worst: bool
    facts: FieldFacts

    @property
    def subject(self) -> str:
        """The level as the phrase builder says it, quoted: “Time on site: 11–67 min”."""
        return f"“{level_phrase(self.facts, self.kind, self.level)}”"


def _bounds(level: str) -> tuple[float, float] | None:
    """``"0.773 – 16.04"`` → (0.773, 16.04); ``"6"`` → (6, 6); None for other text."""
    try:
        parts = [float(p.replace(",", "")) for p in level.split(" – ")]
    except ValueError:
        return None
    return (parts[0], parts[-1]) if len(parts) in (1, 2) else None


def level_phrase(facts: FieldFacts, kind: str, level: str) -> str:
    """One level of a conversion table in words: a category or a flag as a reason says it,
    a range rounded (``Time to demo request: 1–16 hours``), a weekday or hour of a date.

    Example
    -------
    >>> from leadscore.scoring.phrases import default_facts
    >>> level_phrase(default_facts("hours_to_demo_request"), "numeric", "0.773 – 16.04")
    'Time to demo request: 1–16 hours'
    >>> level_phrase(default_facts("created_at"), "weekday", "Tuesday")
    'Created on a Tuesday'
    """
    if level == MISSING:
        return statement(facts, None)
    if kind == "weekday":
        return f"{date_label(facts.label)} on a {level}"
    if kind == "hour":
        return f"{date_label(facts.label)} at {level}"
    bounds = _bounds(level) if kind == "numeric" else None
    if bounds is not None:
        return range_statement(facts, *bounds)
    return statement(facts, level, compare=False)


def table_phrasebook(tables: Mapping[str, pd.DataFrame]) -> Phrasebook:
    """The facts of the tables' fields as the tables show them (a numeric field of only 0
    and 1 is a flag), for findings without a model's :func:`phrasebook
    <leadscore.scoring.field_facts.phrasebook>`."""
    facts = {}
    for name, table in tables.items():
        field = str(table.attrs.get("field", name))
        kind = str(table.attrs.get("kind", "categorical"))
        levels = [str(v) for v in table["level"] if v not in (MISSING, OTHER)]
        if kind in ("weekday", "hour"):
            facts[field] = infer_facts(field, "datetime")
        elif kind == "numeric":
            found = [_bounds(v) for v in levels]
            singles = [b[0] for b in found if b is not None and b[0] == b[1]]
            values = pd.Series(singles, dtype=float) if len(singles) == len(levels) else None
            facts[field] = infer_facts(field, "numeric", values)
        else:
            facts[field] = infer_facts(field, "categorical", categories=levels)
    return Phrasebook(facts)


def _levels(tables: Mapping[str, pd.DataFrame], book: Phrasebook) -> list[tuple[_Level, bool]]:
    """Every level of every table (``"(other levels)"`` aside) and whether it is well supported."""
    found = []
    for name, table in tables.items():
        if table.empty:
            continue
        solid = table[~table["too_small"].astype(bool) & (table["level"] != OTHER)]
        top = solid["rate"].max() if len(solid) > 1 else math.nan
        bottom = solid["rate"].min() if len(solid) > 1 else math.nan
        kind = str(table.attrs.get("kind", "categorical"))
        facts = book.facts(str(table.attrs.get("field", name)))
        for row in table.itertuples(index=False):
            if row.level == OTHER:
                continue
            level = _Level(
                name, kind, str(row.level), int(row.leads), float(row.share), float(row.rate),
                float(row.lift), float(row.ci_low), float(row.ci_high),
                best=bool(row.rate == top), worst=bool(row.rate == bottom), facts=facts,
            )  # fmt: skip
            found.append((level, not bool(row.too_small)))
    return found


def _strong_sentence(level: _Level) -> str:
    rate, lift = percent(level.rate), f"{level.lift:.1f}× the average"
    if level.best and level.share < SMALL_SHARE:
        return (
            f"{level.subject} is only {percent(level.share)} of leads but converts best at "
            f"{rate} ({lift})."
        )
    verb = "converts best at" if level.best else "converts well at"
    return f"{level.subject} {verb} {rate} ({lift}; {percent(level.share)} of leads)."


def _weak_sentence(level: _Level) -> str:
    verb = "converts worst at" if level.worst else "converts at only"
    return (
        f"{level.subject} {verb} {percent(level.rate)} ({level.lift:.1f}× the average; "
        f"{percent(level.share)} of leads)."
    )


def _few_sentence(level: _Level) -> str:
    return (
        f"{level.subject} converts at {percent(level.rate)}, but from only {level.leads:,} "
        "leads — too few to rely on yet."
    )


def _one_per_table(levels: list[_Level]) -> list[_Level]:
    seen: set[str] = set()
    kept = []
    for level in levels:
        if level.table not in seen:
            seen.add(level.table)
            kept.append(level)
    return kept


def findings(
    tables: Mapping[str, pd.DataFrame],
    overall_rate: float,
    *,
    max_findings: int = 8,
    book: Phrasebook | None = None,
) -> list[str]:
    """Short sentences on the strongest and weakest levels, for a sales manager.

    A level is *strong* when its whole Wilson interval lies above the overall rate and
    *weak* when it lies below; levels flagged ``too_small`` never count as either. Strong
    levels are ranked by how far their lower bound clears the average (``ci_low /
    overall``, which rewards both lift and support), weak ones by how far their upper bound
    stays under it. Each table gives at most one strong and one weak sentence; up to 4
    strong, 3 weak and 1 "few leads" sentence (the most promising level with too few leads,
    said honestly) are returned, in that order. The result is deterministic.

    Parameters
    ----------
    tables:
        What :func:`conversion_tables` returns.
    overall_rate:
        The conversion rate of all leads.
    max_findings:
        At most this many sentences.
    book:
        How to word each field: the model's :func:`phrasebook
        <leadscore.scoring.field_facts.phrasebook>` (default: what the tables show,
        :func:`table_phrasebook`).

    Example
    -------
    >>> from leadscore.explain.conversion import conversion_tables
    >>> y = (leads["converted"] == "yes").to_numpy()
    >>> kinds = {"source": "categorical", "visits": "numeric", "time_on_site_s": "numeric"}
    >>> findings(conversion_tables(leads, y, kinds), y.mean())[0]
    '“Time on site: 11–67 min” converts best at 42.1 % (5.1× the average; 12.7 % of leads).'
    """
    if not 0 < overall_rate < 1:
        return ["Every lead has the same outcome, so no field can separate them."]
    levels = _levels(tables, book if book is not None else table_phrasebook(tables))
    solid = [level for level, ok in levels if ok]
    strong = sorted(
        (v for v in solid if v.ci_low > overall_rate),
        key=lambda v: (-v.ci_low / overall_rate, -v.leads, v.table, v.level),
    )
    weak = sorted(
        (v for v in solid if v.ci_high < overall_rate),
        key=lambda v: (v.ci_high / overall_rate, -v.leads, v.table, v.level),
    )
    few = sorted(
        (v for v, ok in levels if not ok and v.rate >= 1.5 * overall_rate and v.leads > 1),
        key=lambda v: (-v.ci_low, -v.leads, v.table, v.level),
    )
    sentences = [_strong_sentence(v) for v in _one_per_table(strong)[:MAX_STRONG]]
    sentences += [_weak_sentence(v) for v in _one_per_table(weak)[:MAX_WEAK]]
    sentences += [_few_sentence(v) for v in few[:MAX_FEW]]
    if not sentences:
        return [
            "No field separates converting leads from the others by more than chance: "
            "every difference is within the uncertainty of the data."
        ]
    return sentences[:max_findings]
