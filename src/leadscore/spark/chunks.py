"""What runs inside each Spark partition: whole leads' events → lead rows, by the
single-machine code.

The events reach a partition sorted by lead (and, within a lead, in input order), in
Arrow batches. :func:`lead_chunks` gathers them into chunks of whole leads (never a lead
cut in two), and :func:`lead_rows` turns one chunk into lead rows exactly as
:func:`leadscore.features.table.build_lead_table` does for a whole file: the events mapped
onto the event schema (:func:`~leadscore.data.event_schema.normalise`), duplicates
dropped, :meth:`LeadFeatureBuilder.transform`, the outcome and the CRM fields joined
(:func:`~leadscore.features.crm.join_crm`). A task's memory is that of one chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from leadscore.data.event_schema import normalise
from leadscore.data.events import duplicate_events
from leadscore.features.build import LeadFeatureBuilder
from leadscore.features.crm import CrmTable, add_crm_only_leads, join_crm
from leadscore.features.table import ID, TARGET

#: a row's place in the input (file, then row in the file): the order the single machine
#: reads events in, which decides between events at the same time; -1 marks a lead of
#: the population (outcomes, CRM table) that is not an event
ORDER = "_ls_order"
#: the lead id as text: what the events are partitioned and sorted by
KEY = "_ls_lead"
#: where the events came from, for messages
SOURCE = "spark events"


@dataclass
class ChunkJob:
    """Everything a partition needs, sent to each executor once (a broadcast)."""

    builder: LeadFeatureBuilder
    #: the columns of the event table that map onto the event schema
    raw_columns: list[str]
    #: the columns :meth:`LeadFeatureBuilder.transform` returns, in order
    feature_columns: list[str]
    #: training: ``lead_id``, ``converted`` (0/1), ``outcome_at`` of every lead
    labels: pd.DataFrame | None = None
    #: training: each lead's cutoff (``cutoffs_for``)
    cutoffs: pd.Series | None = None
    #: scoring: no event at or after this time
    cutoff: pd.Timestamp | None = None
    #: the ``as_of`` of :meth:`~LeadFeatureBuilder.transform` (scoring: the given time or
    #: the latest event; training: the latest event for leads without a cutoff)
    as_of: pd.Timestamp | None = None
    crm: CrmTable | None = None
    #: scoring: the time CRM fields are taken at (the given ``as_of``, else the cutoff)
    crm_when: pd.Timestamp | None = None
    #: the output's Arrow schema (None: the driver is still finding it)
    schema: pa.Schema | None = None
    chunk_events: int = 500_000
    #: counts added up over the partitions (an accumulator on the driver)
    counts: Any = field(default=None, repr=False)


def lead_chunks(batches: Iterable[pa.RecordBatch], limit: int) -> Iterator[pa.Table]:
    """Arrow batches sorted by :data:`KEY` → tables of at least ``limit`` rows (the last
    one may be smaller), each ending where a lead ends.

    Parameters
    ----------
    batches:
        A partition's batches, sorted by :data:`KEY`.
    limit:
        Rows a chunk should reach before it is cut.

    Example
    -------
    >>> batch = pa.record_batch({KEY: ["a", "a", "b", "b", "b", "c"], "x": range(6)})
    >>> [t[KEY].to_pylist() for t in lead_chunks([batch.slice(0, 3), batch.slice(3)], 2)]
    [['a', 'a'], ['b', 'b', 'b'], ['c']]
    """
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        rows += batch.num_rows
        while rows >= limit:
            table = pa.Table.from_batches(pending)
            cut = _complete_rows(table[KEY], limit)
            if cut == 0:  # a lead bigger than the chunk: wait for its end
                break
            yield table.slice(0, cut)
            rest = table.slice(cut)
            pending, rows = rest.to_batches(), rest.num_rows
    if rows:
        yield pa.Table.from_batches(pending)


def _complete_rows(keys: pa.ChunkedArray, limit: int) -> int:
    """How many leading rows form whole leads, the chunk ending at the first lead
    boundary at or after ``limit`` rows (0: the lead that starts first never ends here)."""
    values = keys.to_numpy(zero_copy_only=False)
    tail = values[limit - 1 :]
    # the first row (from the limit on) whose lead differs from the one before it
    changed = np.flatnonzero(tail[1:] != tail[:-1])
    return limit + int(changed[0]) if len(changed) else 0


def _population(chunk: pa.Table) -> tuple[pa.Table, list[str]]:
    """The chunk's events, and the leads named by placeholder rows (outcomes, CRM)."""
    placeholder = pc.equal(chunk[ORDER], -1)
    keys = pc.filter(chunk[KEY], placeholder).to_pylist()
    return chunk.filter(pc.invert(placeholder)), [k for k in keys if k is not None]


def chunk_events(chunk: pa.Table, job: ChunkJob) -> tuple[pd.DataFrame, list[str]]:
    """One chunk's events on the event schema (bad rows set aside, duplicates dropped,
    input order kept), and the population leads it names. Counts go to ``job.counts``."""
    events, keys = _population(chunk)
    raw = events.select(job.raw_columns).to_pandas()
    order = events[ORDER].to_numpy()
    good, rejected = normalise(raw, SOURCE, order)
    del raw
    counts: dict[str, int] = {"events read": len(order)}
    if len(rejected):
        for reason, n in rejected["reason"].value_counts().items():
            counts[f"quarantined: {reason}"] = int(n)
    repeated = duplicate_events(good) if len(good) else np.zeros(0, dtype=bool)
    if repeated.any():
        good = good.loc[~repeated].reset_index(drop=True)
        counts["duplicates removed"] = int(repeated.sum())
    _count(job, counts)
    return good, keys


def _count(job: ChunkJob, counts: dict[str, int]) -> None:
    if job.counts is not None:
        job.counts.add(counts)


def _features(events: pd.DataFrame, job: ChunkJob, **kwargs: Any) -> pd.DataFrame:
    """The builder's features of these events, with every column even for no lead."""
    if len(events):
        features = job.builder.transform(events, **kwargs)
    else:
        features = pd.DataFrame({ID: pd.Series(dtype="str")})
    return features.reindex(columns=job.feature_columns)


def _crm_part(crm: CrmTable, keys: Iterable[str]) -> CrmTable:
    """The CRM rows of these leads (the notes are the driver's to give)."""
    rows = crm.rows[crm.rows[ID].isin(pd.Index(list(keys), dtype=object))]
    return CrmTable(rows.reset_index(drop=True), crm.fields, crm.time_column)


def lead_rows(chunk: pa.Table, job: ChunkJob) -> pd.DataFrame:
    """One chunk of whole leads → their rows of the lead table (training: the
    population's leads with their outcome; scoring: every lead with events, and the CRM
    leads without)."""
    events, keys = chunk_events(chunk, job)
    if job.labels is not None:
        table = _training_rows(events, keys, job)
    else:
        table = _scoring_rows(events, keys, job)
    _count(job, {"leads": len(table)})
    return table


def _training_rows(events: pd.DataFrame, keys: list[str], job: ChunkJob) -> pd.DataFrame:
    assert job.labels is not None and job.cutoffs is not None
    labels = job.labels[job.labels[ID].isin(pd.Index(keys, dtype=object))]
    cutoffs = job.cutoffs[job.cutoffs.index.isin(pd.Index(keys, dtype=object))]
    population = pd.Index(labels[ID])
    features = _features(events, job, cutoffs=cutoffs, as_of=job.as_of, leads=population)
    _count(job, {"leads with events": len(features)})
    # as build_lead_table: every lead of the outcomes, its features where it has events
    table = labels[[ID, TARGET]].merge(features, on=ID, how="left")
    table[TARGET] = table[TARGET].map({1: "yes", 0: "no"})
    table = table[[ID, *[c for c in features.columns if c != ID], TARGET]]
    if job.crm is not None:
        table, _, _ = join_crm(table, _crm_part(job.crm, keys), cutoffs=cutoffs)
        table = table[[c for c in table.columns if c != TARGET] + [TARGET]]
    return table


def _scoring_rows(events: pd.DataFrame, keys: list[str], job: ChunkJob) -> pd.DataFrame:
    if job.cutoff is not None and len(events):
        events = events[(events["timestamp"] < job.cutoff).to_numpy()]
    table = _features(events, job, as_of=job.as_of)
    if job.crm is not None:
        leads = set(keys) | set(table[ID].astype(str))
        crm = _crm_part(job.crm, leads)
        table = add_crm_only_leads(table, crm)
        table, _, _ = join_crm(table, crm, cutoffs=job.crm_when)
    return table


def to_arrow(table: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """Lead rows in the output's schema (a chunk's integer column with a missing value,
    or a text column missing throughout, takes the type every chunk shares).

    Example
    -------
    >>> schema = pa.schema([("lead_id", pa.string()), ("events", pa.float64())])
    >>> to_arrow(pd.DataFrame({"lead_id": ["a"], "events": [3]}), schema).to_pylist()
    [{'lead_id': 'a', 'events': 3.0}]
    """
    columns = []
    for name, kind in zip(schema.names, schema.types, strict=True):
        values = table[name]
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(object)
        if pa.types.is_string(kind) and values.dtype == object:
            values = values.map(lambda v: v if v is None or isinstance(v, str) else _text(v))
        try:
            column = pa.array(values, type=kind, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # e.g. nanoseconds Spark cannot hold
            column = pa.array(values, from_pandas=True).cast(kind, safe=False)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def _text(value: object) -> str | None:
    return None if pd.isna(value) else str(value)  # type: ignore[arg-type]


def partition_rows(batches: Iterable[pa.RecordBatch], job: ChunkJob) -> Iterator[pa.RecordBatch]:
    """The function each partition runs (``mapInArrow``): sorted events in, lead rows
    out, one chunk of whole leads at a time."""
    assert job.schema is not None
    for chunk in lead_chunks(batches, job.chunk_events):
        table = lead_rows(chunk, job)
        if len(table):
            yield from to_arrow(table, job.schema).to_batches()
