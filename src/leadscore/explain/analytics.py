"""Conversion analytics: how many leads each level of a field brings and how well it converts.

These are the plain numbers marketing acts on, straight from the data (no model): for every
level of a categorical field, every quantile range of a numeric field and every weekday and
hour of a date field, the number and share of leads, the conversion rate with a Wilson score
interval, and the lift over the overall rate. :func:`findings` turns the strongest and
weakest of them into sentences a sales manager reads.

Example
-------
>>> from leadscore.demo import generate_leads
>>> demo = generate_leads(2000, seed=1).table
>>> y = (demo["converted"] == "yes").to_numpy()
>>> conversion_by_level(demo["device"], y).columns.tolist()
['level', 'leads', 'share', 'converted', 'rate', 'ci_low', 'ci_high', 'lift', 'too_small']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from leadscore.errors import DataError

#: the level that stands for "no value" in every table
MISSING = "(missing)"
#: the level that gathers the rarest levels when a table is capped (see ``max_levels``)
OTHER = "(other levels)"
#: columns of every conversion table, in order
COLUMNS = ("level", "leads", "share", "converted", "rate", "ci_low", "ci_high", "lift", "too_small")
#: an interval wider than this on either side of the rate is too uncertain to act on
MAX_HALF_WIDTH = 0.15
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: at most this many positive, negative and "few leads" sentences in :func:`findings`
MAX_STRONG, MAX_WEAK, MAX_FEW = 4, 3, 1
#: a share of leads below this is "only" that share in a finding
SMALL_SHARE = 0.05


# ----------------------------------------------------------------------------- helpers


def field_label(name: str) -> str:
    """A field name as a person reads it: ``time_on_site_s`` → ``Time on site (s)``.

    Names already written for people (``Lead Source``) stay as they are.

    Example
    -------
    >>> field_label("returned_same_day"), field_label("Lead Source")
    ('Returned same day', 'Lead Source')
    """
    from leadscore.scoring.reasons import humanise, unit_of

    name = str(name)
    unit = unit_of(name)
    return f"{humanise(name)} ({unit})" if unit else humanise(name)


def format_number(value: float) -> str:
    """A number for a range label: thousands separators, few decimals.

    Example
    -------
    >>> format_number(1532.0), format_number(2.456), format_number(0.01234)
    ('1,532', '2.46', '0.0123')
    """
    number = float(value)
    if number.is_integer() or abs(number) >= 100:
        return f"{number:,.0f}"
    if abs(number) >= 1:
        return f"{number:,.2f}".rstrip("0").rstrip(".")
    return f"{number:.3g}"


def percent(share: float) -> str:
    """A 0–1 share as ``"6.8 %"`` (``"<0.1 %"`` for tiny non-zero shares).

    Example
    -------
    >>> percent(0.0683), percent(0.0004)
    ('6.8 %', '<0.1 %')
    """
    if 0 < share < 0.0005:
        return "<0.1 %"
    return f"{100 * share:.1f} %"


def wilson_interval(
    converted: Any, leads: Any, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a conversion rate ``converted / leads``.

    Unlike the normal ("Wald") interval it stays inside 0–1 and is honest for small
    groups and rates near 0 or 1. Where ``leads`` is 0 both bounds are NaN.

    Parameters
    ----------
    converted:
        Conversions per group (scalar or array).
    leads:
        Leads per group, same shape.
    confidence:
        Coverage of the interval, strictly between 0 and 1.

    Example
    -------
    >>> low, high = wilson_interval(10, 100)
    >>> round(float(low), 4), round(float(high), 4)
    (0.0552, 0.1744)
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    k = np.asarray(converted, dtype=float)
    n = np.asarray(leads, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    # the interval always holds its own rate (rounding can otherwise miss 0 or 1 by 1e-17)
    low = np.clip(np.minimum(centre - half, p), 0.0, 1.0)
    high = np.clip(np.maximum(centre + half, p), 0.0, 1.0)
    return low, high


def outcomes(y: Any, n: int | None = None) -> np.ndarray:
    """The outcome as a 0/1 integer array; raises :class:`DataError` for anything else.

    Example
    -------
    >>> outcomes([True, False, 1]).tolist()
    [1, 0, 1]
    """
    values = np.asarray(y)
    if values.ndim != 1:
        raise DataError(f"the outcome must be one-dimensional, got shape {values.shape}")
    if n is not None and len(values) != n:
        raise DataError(f"the outcome has {len(values)} values for {n} leads")
    try:
        numbers = values.astype(float)
    except (TypeError, ValueError):
        raise DataError("the outcome must hold 0/1 (or True/False) values") from None
    if not np.isin(numbers, (0.0, 1.0)).all():
        raise DataError("the outcome must hold only 0 and 1 (no missing values)")
    return numbers.astype(np.int64)


def _text_levels(values: pd.Series) -> pd.Series:
    """Every value as text, missing ones as :data:`MISSING`."""
    text = values.astype(object)
    return text.where(text.isna(), text.astype(str)).fillna(MISSING).astype(object)


def _summarise(
    labels: pd.Series,
    y: np.ndarray,
    order: Sequence[str] | None,
    min_leads: int,
    confidence: float,
) -> pd.DataFrame:
    """The conversion table of ``labels``; rows in ``order`` (or by leads, descending)."""
    grouped = pd.Series(y, index=labels.index).groupby(labels.to_numpy(), sort=False)
    counts = pd.DataFrame({"leads": grouped.size(), "converted": grouped.sum()})
    if order is None:
        counts = counts.rename_axis("level").reset_index()
        counts["level"] = counts["level"].astype(str)
        counts = counts.sort_values(["leads", "level"], ascending=[False, True], kind="stable")
    else:
        counts = counts.reindex([o for o in order if o in counts.index])
        counts = counts.rename_axis("level").reset_index()
    leads = counts["leads"].to_numpy(dtype=np.int64)
    converted = counts["converted"].to_numpy(dtype=np.int64)
    total, overall = len(y), float(np.mean(y)) if len(y) else float("nan")
    low, high = wilson_interval(converted, leads, confidence)
    rate = converted / np.maximum(leads, 1)
    table = pd.DataFrame(
        {
            "level": counts["level"].astype(object).to_numpy(),
            "leads": leads,
            "share": leads / max(total, 1),
            "converted": converted,
            "rate": rate,
            "ci_low": low,
            "ci_high": high,
            "lift": rate / overall if overall > 0 else np.full(len(rate), np.nan),
            "too_small": (leads < min_leads) | ((high - low) / 2 > MAX_HALF_WIDTH),
        }
    )
    return table.reset_index(drop=True)


def _check(values: pd.Series, y: Any, min_leads: int) -> np.ndarray:
    if not isinstance(values, pd.Series):
        raise DataError("values must be a pandas Series")
    if min_leads < 0:
        raise ValueError(f"min_leads must be zero or positive, got {min_leads!r}")
    return outcomes(y, len(values))


# ----------------------------------------------------------------------------- tables


def conversion_by_level(
    values: pd.Series,
    y: Any,
    *,
    min_leads: int = 30,
    confidence: float = 0.95,
    max_levels: int | None = None,
) -> pd.DataFrame:
    """Leads, share and conversion rate of every level of a categorical field.

    Parameters
    ----------
    values:
        The field, one value per lead; missing values form the level ``"(missing)"``
        (a real level spelt exactly like that would be counted with them).
    y:
        Outcome per lead, 0/1.
    min_leads:
        Levels with fewer leads are flagged ``too_small``.
    confidence:
        Coverage of the Wilson interval ``ci_low``–``ci_high``.
    max_levels:
        Keep the most frequent ``max_levels`` levels and gather the rest in one last row
        ``"(other levels)"``; ``None`` keeps every level.

    Returns
    -------
    pandas.DataFrame
        Columns ``level, leads, share, converted, rate, ci_low, ci_high, lift, too_small``,
        sorted by leads (descending, ties by level). ``lift`` is the rate over the overall
        rate; ``too_small`` marks levels with fewer than ``min_leads`` leads or an interval
        half-width above 0.15 — too uncertain to act on.

    Example
    -------
    >>> table = conversion_by_level(pd.Series(["a", "a", "b", None]), [1, 0, 1, 0], min_leads=1)
    >>> table[["level", "leads", "rate"]].to_dict("list")
    {'level': ['a', '(missing)', 'b'], 'leads': [2, 1, 1], 'rate': [0.5, 0.0, 1.0]}
    """
    y_arr = _check(values, y, min_leads)
    labels = _text_levels(values)
    if max_levels is not None:
        if max_levels < 1:
            raise ValueError(f"max_levels must be at least 1, got {max_levels!r}")
        counts = labels.value_counts()
        ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
        kept = {level for level, _ in ranked[:max_levels]}
        if len(counts) > max_levels:
            labels = labels.where(labels.isin(kept), OTHER)
    table = _summarise(labels, y_arr, None, min_leads, confidence)
    other = table["level"] == OTHER
    return pd.concat([table[~other], table[other]], ignore_index=True)


def _bin_labels(numbers: pd.Series, codes: pd.Series, n_bins: int) -> dict[int, str]:
    """``"low – high"`` of the values actually seen in each bin (one value: just it)."""
    labels = {}
    spans = numbers.groupby(codes).agg(["min", "max"])
    for code in range(n_bins):
        if code not in spans.index:
            continue
        low, high = spans.loc[code, "min"], spans.loc[code, "max"]
        labels[code] = (
            format_number(low) if low == high else f"{format_number(low)} – {format_number(high)}"
        )
    return labels


def conversion_by_bins(
    values: pd.Series,
    y: Any,
    *,
    bins: int = 8,
    min_leads: int = 30,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Conversion by quantile range of a numeric field, low to high, missing last.

    The ranges are quantile bins (about equally many leads each); edges that coincide
    because many leads share a value are merged, so there may be fewer than ``bins``; when
    the smallest value alone holds a bin's worth of leads (zero seconds, one visit) it gets
    a row of its own. A field with at most ``bins`` distinct values gets one row per value.
    Each ``level`` names the smallest and largest value seen in the range, e.g.
    ``"0 – 45"``; infinite values count as missing.

    Parameters
    ----------
    values:
        The field, one number per lead (text that is not a number counts as missing).
    y:
        Outcome per lead, 0/1.
    bins:
        The number of quantile ranges to aim for.
    min_leads, confidence:
        As for :func:`conversion_by_level`.

    Example
    -------
    >>> x = pd.Series([0, 10, 20, 30, 40, 50, None, 70, 80, 90])
    >>> conversion_by_bins(x, [0, 0, 0, 1, 0, 1, 0, 1, 1, 1], bins=3, min_leads=1)["level"].tolist()
    ['0 – 20', '30 – 50', '70 – 90', '(missing)']
    """
    y_arr = _check(values, y, min_leads)
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins!r}")
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    numbers = numbers.where(np.isfinite(numbers))
    present = numbers.dropna()
    distinct = np.sort(present.unique())
    if len(distinct) <= bins:
        codes = pd.Series(np.searchsorted(distinct, numbers), index=numbers.index)
        n_bins = len(distinct)
    else:
        quantiles = np.quantile(present, np.linspace(0, 1, bins + 1))
        edges = np.unique(quantiles)
        if quantiles[1] == quantiles[0]:
            # The smallest value alone holds a full bin's leads (zeros, "1 visit"): its own row.
            edges = np.concatenate([[-np.inf], edges])
        codes = pd.Series(
            pd.cut(numbers, edges, include_lowest=True, labels=False), index=numbers.index
        )
        n_bins = len(edges) - 1
    codes = codes.where(numbers.notna())
    names = _bin_labels(numbers, codes, n_bins)
    labels = codes.map(names).fillna(MISSING).astype(object)
    order = [names[c] for c in sorted(names)] + [MISSING]
    return _summarise(labels, y_arr, order, min_leads, confidence)


def conversion_by_weekday(
    values: pd.Series, y: Any, *, min_leads: int = 30, confidence: float = 0.95
) -> pd.DataFrame:
    """Conversion by weekday (Monday first) of a datetime field, missing last.

    Parameters
    ----------
    values:
        Timestamps, one per lead (text is parsed; unparsable values count as missing).
    y, min_leads, confidence:
        As for :func:`conversion_by_level`.

    Example
    -------
    >>> days = pd.Series(pd.to_datetime(["2026-01-05", "2026-01-10", None]))
    >>> conversion_by_weekday(days, [1, 0, 0], min_leads=1)["level"].tolist()
    ['Monday', 'Saturday', '(missing)']
    """
    y_arr = _check(values, y, min_leads)
    stamps = pd.to_datetime(values, errors="coerce")
    labels = stamps.dt.day_of_week.map(dict(enumerate(WEEKDAYS))).fillna(MISSING).astype(object)
    return _summarise(labels, y_arr, [*WEEKDAYS, MISSING], min_leads, confidence)


def conversion_by_hour(
    values: pd.Series, y: Any, *, min_leads: int = 30, confidence: float = 0.95
) -> pd.DataFrame:
    """Conversion by hour of day (``"09:00–09:59"``) of a datetime field, missing last.

    Parameters
    ----------
    values:
        Timestamps, one per lead (text is parsed; unparsable values count as missing).
    y, min_leads, confidence:
        As for :func:`conversion_by_level`.

    Example
    -------
    >>> stamps = pd.Series(pd.to_datetime(["2026-01-05 09:15", "2026-01-05 14:00"]))
    >>> conversion_by_hour(stamps, [1, 0], min_leads=1)["level"].tolist()
    ['09:00–09:59', '14:00–14:59']
    """
    y_arr = _check(values, y, min_leads)
    stamps = pd.to_datetime(values, errors="coerce")
    names = {h: f"{h:02d}:00–{h:02d}:59" for h in range(24)}
    labels = stamps.dt.hour.map(names).fillna(MISSING).astype(object)
    return _summarise(labels, y_arr, [*names.values(), MISSING], min_leads, confidence)


def _tagged(table: pd.DataFrame, field: str, kind: str) -> pd.DataFrame:
    table.attrs = {"field": field, "kind": kind}
    return table


def conversion_tables(
    features: pd.DataFrame,
    y: Any,
    kinds: Mapping[str, str],
    *,
    bins: int = 8,
    min_leads: int = 30,
    confidence: float = 0.95,
    max_levels: int | None = 50,
) -> dict[str, pd.DataFrame]:
    """A conversion table for every categorical, numeric and datetime field.

    Datetime fields give two tables, ``"<col> (weekday)"`` and ``"<col> (hour)"``. Every
    table carries ``attrs = {"field": column, "kind": "categorical" | "numeric" |
    "weekday" | "hour"}``. Columns of ``features`` without a kind are skipped.

    Parameters
    ----------
    features:
        One row per lead.
    y:
        Outcome per lead, 0/1.
    kinds:
        ``"numeric"``, ``"categorical"`` or ``"datetime"`` per column (``LeadTable.kinds``).
    bins, min_leads, confidence:
        As for :func:`conversion_by_bins` and :func:`conversion_by_level`.
    max_levels:
        Categorical fields keep this many levels, the rest gathered as ``"(other levels)"``
        (``None``: all); free-text fields would otherwise give one row per lead.

    Example
    -------
    >>> tables = conversion_tables(table.features, table.y, table.kinds)  # doctest: +SKIP
    >>> list(tables)[:3]  # doctest: +SKIP
    ['created_at (weekday)', 'created_at (hour)', 'source']
    """
    y_arr = outcomes(y, len(features))
    stats = {"min_leads": min_leads, "confidence": confidence}
    tables: dict[str, pd.DataFrame] = {}
    for column in features.columns:
        kind, values = kinds.get(column), features[column]
        if kind == "categorical":
            table = conversion_by_level(values, y_arr, max_levels=max_levels, **stats)
            tables[column] = _tagged(table, column, "categorical")
        elif kind == "numeric":
            table = conversion_by_bins(values, y_arr, bins=bins, **stats)
            tables[column] = _tagged(table, column, "numeric")
        elif kind == "datetime":
            weekday = conversion_by_weekday(values, y_arr, **stats)
            tables[f"{column} (weekday)"] = _tagged(weekday, column, "weekday")
            hour = conversion_by_hour(values, y_arr, **stats)
            tables[f"{column} (hour)"] = _tagged(hour, column, "hour")
    return tables


# ----------------------------------------------------------------------------- ranking


def field_strength(table: pd.DataFrame, overall_rate: float) -> float:
    """How strongly a field separates converting leads: the share of the outcome's variance
    between its well-supported levels (eta², 0–1; ``too_small`` levels left out so that
    many tiny levels do not look informative by chance).

    Example
    -------
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
    >>> rank_fields(tables, overall_rate)[:3]  # doctest: +SKIP
    ['time_on_site_s', 'returned_same_day', 'visits']
    """
    strength = {name: field_strength(table, overall_rate) for name, table in tables.items()}
    return sorted(tables, key=lambda name: (-strength[name], name))


# ----------------------------------------------------------------------------- findings


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

    @property
    def subject(self) -> str:
        label = field_label(self.table)
        if self.level == MISSING:
            return f"{label} not given"
        if self.kind == "categorical":
            return f"{label} “{self.level}”"
        if self.kind == "numeric":
            return f"{label} {self.level}"
        return f"{label}: {self.level}"


def _levels(tables: Mapping[str, pd.DataFrame]) -> list[tuple[_Level, bool]]:
    """Every level of every table (``"(other levels)"`` aside) and whether it is well supported."""
    found = []
    for name, table in tables.items():
        if table.empty:
            continue
        solid = table[~table["too_small"].astype(bool) & (table["level"] != OTHER)]
        top = solid["rate"].max() if len(solid) > 1 else math.nan
        bottom = solid["rate"].min() if len(solid) > 1 else math.nan
        kind = str(table.attrs.get("kind", "categorical"))
        for row in table.itertuples(index=False):
            if row.level == OTHER:
                continue
            level = _Level(
                name, kind, str(row.level), int(row.leads), float(row.share), float(row.rate),
                float(row.lift), float(row.ci_low), float(row.ci_high),
                best=bool(row.rate == top), worst=bool(row.rate == bottom),
            )  # fmt: skip
            found.append((level, not bool(row.too_small)))
    return found


def _strong_sentence(level: _Level) -> str:
    rate, lift = percent(level.rate), f"{level.lift:.1f}× the average"
    if level.best and level.share < SMALL_SHARE:
        return (
            f"{level.subject} sends only {percent(level.share)} of leads but converts best at "
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
    tables: Mapping[str, pd.DataFrame], overall_rate: float, *, max_findings: int = 8
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

    Example
    -------
    >>> findings(tables, 0.12)[0]  # doctest: +SKIP
    'Source “medium” sends only 1.0 % of leads but converts best at 41.5 % (3.5× the average).'
    """
    if not 0 < overall_rate < 1:
        return ["Every lead has the same outcome, so no field can separate them."]
    levels = _levels(tables)
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


__all__ = [
    "COLUMNS",
    "MISSING",
    "OTHER",
    "conversion_by_bins",
    "conversion_by_hour",
    "conversion_by_level",
    "conversion_by_weekday",
    "conversion_tables",
    "field_label",
    "field_strength",
    "findings",
    "format_number",
    "outcomes",
    "percent",
    "rank_fields",
    "wilson_interval",
]
