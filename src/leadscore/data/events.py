"""Raw behaviour events from many files onto one schema, with quarantine and de-duplication.

:func:`load_events` reads every file on its own (:mod:`.event_files`), maps its columns
onto the event schema (:mod:`.event_schema`), and gathers the rows that cannot be used
(a broken JSON line, no lead id, a time that cannot be read) in a quarantine table with
the file, line number and reason — never a crash, never a silent drop. Duplicates (the
same event id, or the same row twice) are removed and counted; the events come back in
time order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import union_categoricals

from leadscore.data.event_arrow import normalise_table, parquet_batches
from leadscore.data.event_files import read_event_file
from leadscore.data.event_schema import EVENT_COLUMNS, TEXT_COLUMNS, normalise
from leadscore.data.sources import read_table, resolve_files, source_kind
from leadscore.data.table_files import PARQUET_SUFFIXES, base_suffix
from leadscore.errors import DataError


@dataclass
class EventLoad:
    """Events read from one or more files, with what was set aside and why."""

    events: pd.DataFrame
    quarantine: pd.DataFrame
    duplicates: int = 0
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: events and leads when ``events`` is not held (the streamed features counted them)
    counted: tuple[int, int] | None = None

    @property
    def counts(self) -> dict[str, int]:
        reasons = self.quarantine["reason"].value_counts() if len(self.quarantine) else {}
        if self.counted is not None:
            events, leads = self.counted
        else:
            events = len(self.events)
            leads = int(self.events["lead_id"].nunique()) if events else 0
        return {
            "events": events,
            "leads": leads,
            "duplicates_removed": self.duplicates,
            "quarantined": len(self.quarantine),
            **{f"quarantined: {k}": int(v) for k, v in dict(reasons).items()},
        }

    def summary(self) -> str:
        """One paragraph a person can read: what was loaded and what was set aside."""
        c = self.counts
        text = (
            f"{c['events']:,} events of {c['leads']:,} leads from {len(self.files)} file(s); "
            f"{c['duplicates_removed']:,} duplicates removed; {c['quarantined']:,} set aside"
        )
        if c["quarantined"]:
            reasons = self.quarantine["reason"].value_counts()
            text += " (" + ", ".join(f"{n:,} {r}" for r, n in reasons.items()) + ")"
        return text

    def write_quarantine(self, path: str | Path) -> Path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        self.quarantine.to_csv(out, index=False)
        return out


_QUARANTINE_COLUMNS = ["file", "line", "reason", "raw"]


def quarantine_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Set-aside events as the quarantine table: ``file``, ``line``, ``reason``, ``raw``.

    Example
    -------
    >>> quarantine_frame([]).columns.tolist()
    ['file', 'line', 'reason', 'raw']
    """
    return pd.DataFrame(rows, columns=_QUARANTINE_COLUMNS)


def duplicate_events(events: EventPart) -> np.ndarray:
    """Repeated events, all but the first marked: the same lead's event id again (a
    tracker's retry), or, for rows without an id, the same row twice. Both are decided
    within a lead, so the events can be de-duplicated a lead at a time (a Spark partition
    or a bucket marks exactly what the whole table would).

    ``events`` is a normalised frame or its Arrow table
    (:data:`~leadscore.data.event_arrow.EVENT_ARROW_SCHEMA`): the
    same rows are marked either way, and a table is never turned into pandas but for the
    rows without an id that share a lead and a time with another row.

    Ids are hashed by Arrow (one pass, usually proving them all distinct); rows without an
    id are compared in full only where lead and time coincide.

    Example
    -------
    >>> from leadscore.demo import write_demo_events
    >>> _ = write_demo_events(Path("demo"), leads=50, new_leads=10)
    >>> events = load_events("demo/events.jsonl").events
    >>> twice = concat_events([events, events.head(3)])
    >>> duplicate_events(twice).sum()  # the three rows sent again
    np.int64(3)
    >>> from leadscore.data.event_arrow import to_event_table
    >>> duplicate_events(to_event_table(twice)).sum()
    np.int64(3)
    """
    marked = np.zeros(len(events), dtype=bool)
    if not len(events):
        return marked
    columns = _Columns(events)
    has_id = columns.has_id()
    if has_id.any() and columns.distinct_ids() != int(has_id.sum()):
        # a retry repeats the lead too; the same id under two leads is two events
        pairs = pd.DataFrame({"lead": columns.lead_codes(), "id": columns.id_codes()})
        marked |= has_id & pairs.duplicated().to_numpy()
    if not has_id.all():
        pairs = pd.DataFrame({"lead": columns.lead_codes(), "time": columns.times()})
        candidates = np.flatnonzero(~has_id & pairs.duplicated(keep=False).to_numpy())
        if len(candidates):
            marked[candidates] = columns.rows(candidates).duplicated().to_numpy()
    return marked


class _Columns:
    """What :func:`duplicate_events` reads of a frame, or of its Arrow table."""

    def __init__(self, events: EventPart) -> None:
        self.events = events
        self.frame = isinstance(events, pd.DataFrame)

    def has_id(self) -> np.ndarray:
        ids = self.events["event_id"]
        return ids.notna().to_numpy() if self.frame else ids.is_valid().to_numpy()

    def distinct_ids(self) -> int:
        """How many distinct ids there are (-1: unknown, compare in full)."""
        try:
            ids = self.events["event_id"]
            ids = pa.array(ids.array, from_pandas=True) if self.frame else ids
            return len(pc.drop_null(pc.unique(ids)))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            return -1

    def lead_codes(self) -> np.ndarray:
        if self.frame:
            return self.events["lead_id"].cat.codes.to_numpy()
        return self.events["lead_id"].combine_chunks().indices.fill_null(-1).to_numpy()

    def id_codes(self) -> np.ndarray:
        if self.frame:
            return pd.factorize(self.events["event_id"], use_na_sentinel=True)[0]
        encoded = pc.dictionary_encode(self.events["event_id"].combine_chunks())
        return encoded.indices.fill_null(-1).to_numpy()

    def times(self) -> np.ndarray:
        times = self.events["timestamp"]
        values = times.to_numpy("datetime64[ns]") if self.frame else times.to_numpy()
        return values.astype("datetime64[ns]").view(np.int64)

    def rows(self, rows: np.ndarray) -> pd.DataFrame:
        """The events at ``rows`` as a frame (compared in full)."""
        if self.frame:
            return self.events.iloc[rows]
        return events_frame(self.events.take(pa.array(rows)))


def _object_categories(values: pd.Series) -> pd.Categorical:
    # pandas may infer "str" categories after edits; union needs one dtype for all parts
    categories = pd.Index(values.cat.categories, dtype=object)
    return pd.Categorical.from_codes(values.cat.codes.to_numpy(), categories=categories)


def _union(columns: list[pd.Series]) -> pd.Categorical:
    """``union_categoricals`` of the columns (``ignore_order``; the categories in order of
    first appearance, as text objects), with the categories factorised once: pandas looks
    every part's categories up in a hash table of all of them, a cost that grows with the
    parts times the distinct values (seconds for the lead ids of a streamed fit sample)."""
    parts = [_object_categories(c) for c in columns]
    if all(part.dtype == parts[0].dtype for part in parts[1:]):  # the same categories
        return union_categoricals(parts, ignore_order=True)
    everything = parts[0].categories.append([c.categories for c in parts[1:]])
    categories = everything.unique()  # as union_categoricals makes them (dtype included)
    mapping = categories.get_indexer(everything)
    codes, start = [], 0
    for part in parts:
        part_codes = np.asarray(part.codes, dtype=np.int64)
        local = mapping[start : start + len(part.categories)]
        codes.append(np.append(local, -1)[np.where(part_codes >= 0, part_codes, len(local))])
        start += len(part.categories)
    return pd.Categorical.from_codes(np.concatenate(codes), categories=categories)


def concat_events(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate event frames (of the same columns), keeping text columns categorical
    (union of categories).

    Example
    -------
    >>> from leadscore.demo import write_demo_events
    >>> _ = write_demo_events(Path("demo"), leads=50, new_leads=10)
    >>> events = load_events("demo/events.jsonl").events
    >>> both = concat_events([events.head(5), events.tail(5)])
    >>> len(both), str(both["lead_id"].dtype)
    (10, 'category')
    """
    if len(parts) == 1:
        return parts[0]
    combined = {}
    for column in (c for c in EVENT_COLUMNS if c in parts[0].columns):  # a sample's, or all
        if column in TEXT_COLUMNS:
            combined[column] = pd.Series(_union([p[column] for p in parts]))
        else:
            combined[column] = pd.concat([p[column] for p in parts], ignore_index=True)
    return pd.DataFrame(combined)


#: rows per Parquet batch: normalised one batch at a time, so a file never sits in memory
#: twice (as read and as normalised)
BATCH_ROWS = 1_000_000

EventPart = pa.Table | pd.DataFrame


def event_parts(
    paths: str | Path | Iterable[str | Path], notes: list[str], rows: int = BATCH_ROWS
) -> Iterator[tuple[str, EventPart, pd.DataFrame]]:
    """Every input's usable events, normalised, with its set-aside rows: ``(name, events,
    quarantine)`` per Parquet batch (an Arrow table, :data:`EVENT_ARROW_SCHEMA`) or per
    other file (a pandas frame, :func:`normalise`'s). The one reader behind
    :func:`load_events` and the streamed features (:mod:`leadscore.features.partition`);
    notes (an empty file among several) are appended to ``notes``.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    inputs: list[tuple[str, Path | pd.DataFrame]] = []
    for item in paths:
        if source_kind(item) == "sql":
            inputs.append((str(item), read_table(item)))
        else:
            inputs.extend((str(f), f) for f in resolve_files(item))
    if not inputs:
        raise DataError("no event files given")
    usable = 0
    for name, item in inputs:
        if isinstance(item, Path) and base_suffix(item) in PARQUET_SUFFIXES:
            if not item.exists():
                raise DataError(f"event file not found: {item}")
            if len(inputs) > 1 and item.stat().st_size == 0:
                notes.append(f"{name} is empty")
                continue
            read = 0
            for table, line in parquet_batches(item, rows):
                good, rejected = normalise_table(table, name, line)
                read += table.num_rows
                usable += good.num_rows
                yield name, good, rejected
            if not read:
                raise DataError(f"event file has no events: {name}")
            continue
        if isinstance(item, pd.DataFrame):
            frame, bad, lines = item, [], np.arange(1, len(item) + 1)
        elif len(inputs) > 1 and item.stat().st_size == 0:
            notes.append(f"{name} is empty")  # e.g. a day without events
            continue
        else:
            frame, bad, lines = read_event_file(item)
        quarantined = quarantine_frame(bad)
        if frame.empty:
            if not bad:
                raise DataError(f"event file has no events: {name}")
            yield name, frame, quarantined
            continue
        good, rejected = normalise(frame, name, lines)
        del frame  # the raw columns: freed before the next file is read
        usable += len(good)
        yield name, good, pd.concat([quarantined, rejected], ignore_index=True)
    if usable == 0:
        shown = ", ".join(name for name, _ in inputs[:3])
        raise DataError(f"no usable events in {shown}: every event was set aside")


def events_frame(part: EventPart) -> pd.DataFrame:
    """Normalised events as the pandas frame the feature builder reads (text as
    categoricals)."""
    if isinstance(part, pd.DataFrame):
        return part
    return part.to_pandas(split_blocks=True, self_destruct=True)


def load_events(paths: str | Path | Iterable[str | Path]) -> EventLoad:
    """Load events from files, directories or glob patterns onto the event schema.

    Parameters
    ----------
    paths:
        One or more JSONL / CSV / Parquet files (optionally gzip-compressed), folders of
        them, glob patterns, ``s3://`` prefixes, ``mixpanel://?from=…&to=…`` exports or
        database URLs with ``?table=`` / ``?query=``. Each may name its columns differently.

    Example
    -------
    >>> from leadscore.demo import write_demo_events
    >>> _ = write_demo_events(Path("demo"), leads=200, new_leads=50)  # with a few bad lines
    >>> loaded = load_events("demo/events.jsonl")
    >>> print(loaded.summary())  # doctest: +NORMALIZE_WHITESPACE
    1,862 events of 200 leads from 1 file(s); 1 duplicates removed; 4 set aside (2 broken
    JSON (Unterminated string starting at), 1 no lead id, 1 time not readable)
    """
    parts: list[pd.DataFrame] = []
    quarantined: list[pd.DataFrame] = []
    notes: list[str] = []
    files: list[str] = []
    for name, part, rejected in event_parts(paths, notes):
        if name not in files:
            files.append(name)
        if len(part):
            parts.append(events_frame(part))
        if len(rejected):
            quarantined.append(rejected)
    events = concat_events(parts)
    del parts
    before = len(events)
    repeated = duplicate_events(events)
    if repeated.any():
        events = events.loc[~repeated]
    duplicates = before - len(events)
    events = time_ordered(events)
    pa.default_memory_pool().release_unused()  # give Arrow's read buffers back now
    quarantine = pd.concat(quarantined, ignore_index=True) if quarantined else quarantine_frame([])
    return EventLoad(events, quarantine, duplicates, files, notes)


def time_order(times: np.ndarray) -> np.ndarray | None:
    """The stable order that puts ``times`` in time order (ties keep their order), or
    ``None`` when they already are.

    Example
    -------
    >>> time_order(np.array([3, 1, 1])).tolist(), time_order(np.array([1, 2]))
    ([1, 2, 0], None)
    """
    if len(times) > 1 and not bool((times[1:] >= times[:-1]).all()):
        return np.argsort(times, kind="stable")
    return None


def time_ordered(events: pd.DataFrame) -> pd.DataFrame:
    """The events in time order (ties keep their order), with a fresh index."""
    order = time_order(events["timestamp"].to_numpy())
    if order is not None:
        events = events.iloc[order]
    return events.reset_index(drop=True)


class StoredEvent(Protocol):
    """What :func:`stored_events_frame` reads of an event kept by the score store."""

    lead_id: str
    event_id: str
    time: datetime
    name: str
    properties: dict[str, Any]


def stored_events_frame(
    events: Iterable[StoredEvent], where: str = "stored events"
) -> pd.DataFrame:
    """Events kept by the score store (validated when they were posted) as the event
    schema the feature builder reads: the same frame whether one lead is re-scored live or
    the whole store becomes a training table.

    Example
    -------
    >>> from types import SimpleNamespace as Event
    >>> from datetime import UTC, datetime
    >>> kept = [Event(lead_id="L1", event_id="e1", time=datetime(2026, 1, 5, 9, tzinfo=UTC),
    ...               name="page_view", properties={"url": "https://example.com/pricing"})]
    >>> frame = stored_events_frame(kept)
    >>> frame[["lead_id", "event", "timestamp"]].to_dict("records")[0]["timestamp"]
    Timestamp('2026-01-05 09:00:00')
    """
    rows = [
        {
            **{k: v for k, v in e.properties.items() if v is not None},
            "lead_id": e.lead_id,
            "timestamp": e.time.astimezone(UTC).replace(tzinfo=None),
            "event": e.name,
            "event_id": e.event_id,
        }
        for e in events
    ]
    if not rows:
        raise DataError(f"{where}: no events")
    frame = pd.DataFrame(rows)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    table, quarantined = normalise(frame, where, np.arange(1, len(frame) + 1))
    if len(quarantined):  # validated on the way in; a stored event that fails is a bug
        raise DataError(f"{where} fail to read: {quarantined.head(3).to_dict('records')}")
    return table
