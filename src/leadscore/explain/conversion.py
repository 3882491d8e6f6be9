"""Conversion tables: how many leads each level of a field brings and how well it converts.

These are the plain numbers marketing acts on, straight from the data (no model): for every
level of a categorical field, every quantile range of a numeric field and every weekday and
hour of a date field, the number and share of leads, the conversion rate with a Wilson score
interval (:mod:`leadscore.explain.rates`), and the lift over the overall rate.
:mod:`leadscore.explain.findings` ranks the tables and puts the strongest and weakest levels
into sentences.

Example
-------
>>> from leadscore.demo import generate_leads
>>> demo = generate_leads(2000, seed=1).table
>>> y = (demo["converted"] == "yes").to_numpy()
>>> conversion_by_level(demo["device"], y).columns.tolist()
['level', 'leads', 'share', 'converted', 'rate', 'ci_low', 'ci_high', 'lift', 'too_small']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from leadscore.errors import DataError
from leadscore.explain.rates import outcomes, wilson_interval
from leadscore.explain.wording import format_number

#: the level that stands for "no value" in every table
MISSING = "(missing)"
#: the level that gathers the rarest levels when a table is capped (see ``max_levels``)
OTHER = "(other levels)"
#: columns of every conversion table, in order
COLUMNS = ("level", "leads", "share", "converted", "rate", "ci_low", "ci_high", "lift", "too_small")
#: an interval wider than this on either side of the rate is too uncertain to act on
MAX_HALF_WIDTH = 0.15
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


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
    >>> y = (leads["converted"] == "yes").to_numpy()
    >>> kinds = {"created_at": "datetime", "source": "categorical", "visits": "numeric"}
    >>> tables = conversion_tables(leads, y, kinds)
    >>> list(tables)
    ['created_at (weekday)', 'created_at (hour)', 'source', 'visits']
    >>> tables["created_at (hour)"].attrs
    {'field': 'created_at', 'kind': 'hour'}
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
