"""Events → arrays in lead and time order, cut at each lead's point in time.

:func:`prepare` keeps the events strictly before each lead's cutoff (and not after
``as_of``), codes the leads and sorts the events by lead and time, without copying the
event table: every feature group then reads the same :class:`Prepared` arrays. The small
reductions here (a lead's first event, its first non-missing value, its distinct values,
how many leads have a value) work on those sorted arrays with numpy, never per lead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from leadscore.data.event_schema import EVENT_COLUMNS
from leadscore.errors import DataError
from leadscore.features.vector import by_unique, codes_and_uniques, text_positions

NS_PER_HOUR = 3_600_000_000_000
NS_PER_DAY = 24 * NS_PER_HOUR

_NO_LIMIT = np.iinfo(np.int64).max


class EventRows:
    """The events in lead and time order, without copying them: a column is taken (in
    that order) only when a feature group asks for it, and dropped when it is done. A
    column of :data:`~leadscore.data.event_schema.EVENT_COLUMNS` the events lack reads as
    all missing (made only when asked for: a fit's sample carries the columns it reads
    alone, :data:`~leadscore.features.build.FIT_COLUMNS`).

    Example
    -------
    >>> rows = EventRows(pd.DataFrame({"url": ["/a", "/b"]}), np.array([1, 0]))
    >>> rows["url"].tolist(), rows["referrer"].isna().all()
    (['/b', '/a'], np.True_)
    """

    def __init__(self, source: pd.DataFrame, rows: np.ndarray) -> None:
        self.source = source
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, column: str) -> pd.Series:
        if column not in self.source.columns:
            return _missing(column, len(self.rows))
        return self.source[column].take(self.rows).reset_index(drop=True)

    def subset(self, positions: np.ndarray, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The given positions (in lead and time order) of ``columns`` (default: every
        column), as a frame."""
        columns = list(self.source.columns if columns is None else columns)
        present = [c for c in columns if c in self.source.columns]
        frame = self.source[present].take(self.rows[positions]).reset_index(drop=True)
        for column in columns:
            if column not in present:
                frame[column] = _missing(column, len(frame))
        return frame[columns]


def _missing(column: str, n: int) -> pd.Series:
    """A column of ``n`` missing values, as text (what a missing event column is)."""
    if column not in EVENT_COLUMNS:
        raise KeyError(column)
    return pd.Series(pd.NA, index=pd.RangeIndex(n), dtype="string", name=column)


@dataclass
class Prepared:
    """Events filtered to the point in time, sorted by lead and time, as arrays."""

    leads: pd.Index  # lead ids, position = lead code
    g: np.ndarray  # lead code per event
    ts: np.ndarray  # int64 ns per event
    starts: np.ndarray  # first event position per lead
    ref: np.ndarray  # int64 ns "as of" per lead (cutoff, or as_of, or the last event)
    events: EventRows  # the rows, in the same order
    is_page_view: np.ndarray
    #: the leads with events (of ``leads``), before the cutoffs: the fit sample's pool
    candidates: pd.Index
    # computed once per preparation, shared by fit and transform in fit_transform
    step_ids: np.ndarray | None = None  # ids into step_labels
    step_labels: pd.Index | None = None
    countries: np.ndarray | None = None
    grams: np.ndarray | None = None  # fitted n-gram counts, leads × grams
    pages: tuple[pd.Series, sp.csr_matrix] | None = None


def _limits(names: object, cutoffs: pd.Series) -> np.ndarray:
    """Each name's cutoff (matched as text) as int64 ns; no cutoff → no limit."""
    at = text_positions(names, cutoffs.index)
    limits = np.append(_as_ns(cutoffs), [_NO_LIMIT])
    return limits[np.where(at < 0, len(cutoffs), at)]


def _as_ns(times: pd.Series) -> np.ndarray:
    """Times as int64 nanoseconds; missing → no limit."""
    values = pd.to_datetime(times)
    out = values.to_numpy("datetime64[ns]").view(np.int64).copy()
    out[values.isna().to_numpy()] = _NO_LIMIT
    return out


def prepare(
    events: pd.DataFrame,
    cutoffs: pd.Series | None,
    as_of: pd.Timestamp | None,
    leads: pd.Index | None,
    page_view_events: Sequence[str],
) -> Prepared:
    """The events of ``leads`` (all when ``None``) strictly before each lead's cutoff and
    not after ``as_of``, in lead and time order; ``page_view_events`` name page views
    (any case)."""
    missing = [c for c in ("lead_id", "timestamp", "event") if c not in events.columns]
    if missing:
        raise DataError(f"events lack the columns {missing}; load them with load_events")
    frame = events  # columns it lacks read as missing (EventRows)
    ts_all = pd.to_datetime(frame["timestamp"]).to_numpy("datetime64[ns]").view(np.int64)
    lead_codes, lead_names = codes_and_uniques(frame["lead_id"])
    keep = lead_codes >= 0
    present = np.bincount(lead_codes[keep], minlength=len(lead_names)) > 0
    if leads is not None:
        wanted = text_positions(lead_names, pd.Index(leads)) >= 0
        keep &= np.append(wanted, [False])[lead_codes]
        present &= wanted
    candidates = pd.Index(lead_names.to_numpy(dtype=object)[present], dtype=object)
    if cutoffs is not None:
        # one cutoff per distinct lead, spread to its events by code (no per-event map)
        limits = lead_limits = _limits(lead_names, cutoffs)
        event_limit = np.append(limits, [_NO_LIMIT])[lead_codes]
        keep &= ts_all < event_limit
        del event_limit
    if as_of is not None:
        keep &= ts_all <= pd.Timestamp(as_of).value
    positions = np.flatnonzero(keep)
    del keep
    kept_codes = lead_codes[positions]
    used = np.flatnonzero(np.bincount(kept_codes, minlength=len(lead_names)))
    codes = np.cumsum(np.bincount(used, minlength=len(lead_names)) > 0)[kept_codes] - 1
    del kept_codes  # each per-event temporary goes once used: a fit prepares 2 M events
    times = ts_all[positions]
    if len(times) > 1 and bool((times[1:] >= times[:-1]).all()):
        # loaded events come in time order: a stable sort by lead keeps it within each lead
        order = np.argsort(codes, kind="stable")
    else:
        order = np.lexsort((times, codes))
    # no copy of the events: columns are taken in lead and time order when used
    rows = EventRows(frame, positions[order])
    del positions
    g, ts = codes[order].astype(np.int64, copy=False), times[order]
    del codes, times, order
    ids = pd.Index(lead_names.to_numpy(dtype=object)[used], dtype=object)
    starts = firsts(g)
    n = len(ids)
    if as_of is not None:
        default_ref = pd.Timestamp(as_of).value
    else:
        default_ref = int(ts.max()) if len(ts) else 0
    ref = np.full(n, default_ref, dtype=np.int64)
    if cutoffs is not None and n:
        lead_limits = lead_limits[used]
        known = lead_limits != _NO_LIMIT
        ref[known] = lead_limits[known]
    page_views = {e.lower() for e in page_view_events}
    is_pv = by_unique(rows["event"], lambda u: u.str.lower().isin(page_views).to_numpy())
    is_pv = is_pv.astype(bool) & rows["event"].notna().to_numpy()
    return Prepared(ids, g, ts, starts, ref, rows, is_pv, candidates)


# ----------------------------------------------------------------------------- per lead


def firsts(g: np.ndarray) -> np.ndarray:
    """Positions where a new lead starts, in events sorted by lead code."""
    return np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else np.array([], dtype=int)


def as_times(ns: np.ndarray) -> pd.DatetimeIndex:
    """Int64 nanoseconds as times, as a view: ``pd.to_datetime`` goes through them one by
    one (8 ms for a bucket's 48,000 leads, against 0.06).

    Example
    -------
    >>> as_times(np.array([0, NS_PER_DAY])).strftime("%Y-%m-%d").tolist()
    ['1970-01-01', '1970-01-02']
    """
    return pd.DatetimeIndex(np.asarray(ns, dtype=np.int64).view("datetime64[ns]"))


def rows_of(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``values[rows]`` (a boolean mask), or ``values`` itself when every row is kept: a
    streamed fit's events are all its sample's, and a copy of each per-event array would
    only cost memory.

    Example
    -------
    >>> values = np.arange(3)
    >>> rows_of(values, np.array([True, False, True])).tolist()
    [0, 2]
    >>> rows_of(values, np.ones(3, dtype=bool)) is values
    True
    """
    return values if rows.all() else values[rows]


def first_present(g: np.ndarray, values: pd.Series, n: int) -> np.ndarray:
    """The first non-missing value per lead code (events are sorted by lead, then time)."""
    out = np.full(n, None, dtype=object)
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        present = np.flatnonzero(codes >= 0)
        first = present[firsts(g[present])]
        categories = np.asarray(values.cat.categories, dtype=object)
        out[g[first]] = categories[codes[first]]
        return out
    present = np.flatnonzero(values.notna().to_numpy())
    first = present[firsts(g[present])]
    out[g[first]] = values.to_numpy()[first]
    return out


def distinct_per_lead(g: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """For each lead code, how many distinct values (codes ≥ 0) it has."""
    valid = values >= 0
    width = int(values.max()) + 1 if valid.any() else 1
    # sorting the (lead, value) keys and counting the changes took a quarter of the CPU of
    # hashing them (pandas' unique) or of a Polars group-by n_unique, on a million events
    pairs = np.sort(g[valid].astype(np.int64) * width + values[valid])
    distinct = pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if len(pairs) else pairs
    return np.bincount(distinct // width, minlength=n).astype(float)


# ----------------------------------------------------------------------------- per value


def leads_per_value(g: np.ndarray, values: np.ndarray, n_values: int) -> np.ndarray:
    """For each value code, how many distinct leads have it (codes < 0 are ignored)."""
    valid = values >= 0
    pairs = pd.unique(g[valid].astype(np.int64) * n_values + values[valid])
    return np.bincount(pairs % n_values, minlength=n_values)


def ranked(support: np.ndarray, labels: Sequence[object]) -> list[int]:
    """Codes by support, most first; ties by label, so the order never depends on the
    order in which values happened to appear in the events."""
    return sorted(range(len(support)), key=lambda i: (-support[i], str(labels[i])))
