"""Lead features streamed bucket by bucket: memory bounded by a bucket, not by the input.

:func:`stream_lead_table` builds the same table as
:func:`~leadscore.features.table.build_lead_table` (the same rows and values), for inputs
larger than memory:

1. every event is normalised and written to its lead's bucket on disk
   (:func:`~leadscore.features.partition.partition_events`); outcomes are split the same
   way;
2. each bucket is read back clean (duplicates removed, in time order) and kept so, to
   count the events and leads, find the latest event and keep the events of the fit sample
   (:func:`~leadscore.features.build.fit_sample`: the leads with the lowest id hashes;
   buckets are ranges of those hashes, so the sample is in the first buckets);
3. the builder is fitted on that sample (or a fitted one is reused);
4. each bucket runs exactly :meth:`LeadFeatureBuilder.transform` — the function a Spark
   partition runs — with its leads' cutoffs, and its rows are appended to the output.

Rows come out bucket by bucket (a lead's row does not depend on which bucket it is in).

With ``workers`` > 1 (the default on a machine of several cores), worker processes
(:mod:`~leadscore.features.stream_pool`) split the outcomes while this process partitions
the events, read the buckets clean, pick the fit sample's events out of them, fit the
builder and transform the buckets, each running the same code
(:mod:`~leadscore.features.stream_work`) a single process would; this process appends the
rows in bucket order. The fit starts in a worker as soon as the first buckets settle the
sample, while the other workers read the rest (:mod:`~leadscore.features.stream_scan`);
the sample carries only the columns the fit reads, so the fit and a bucket being read
together take about what the fit alone took. Each worker holds a bucket, so a bucket holds
``chunk_events / workers`` events, and the job about as much memory as with one process.

Events defined outcomes (``--conversion-event``) and CRM joins (``--leads``) are built in
memory (:func:`~leadscore.features.table.build_lead_table`).
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from leadscore.data.events import BATCH_ROWS, EventLoad, quarantine_frame
from leadscore.data.sources import TableLike, resolve_files, source_kind
from leadscore.data.table_files import CSV_SUFFIXES, PARQUET_SUFFIXES, base_suffix
from leadscore.errors import DataError
from leadscore.features.build import FIT_SAMPLE, FeatureSettings, LeadFeatureBuilder
from leadscore.features.partition import (
    Buckets,
    LabelBuckets,
    partition_events,
    split_outcomes,
)
from leadscore.features.sink import TableSink
from leadscore.features.stream_pool import BucketPool, default_workers
from leadscore.features.stream_scan import FitRequest, check_labels, fitted_builder, scan_buckets
from leadscore.features.stream_work import bucket_rows, used_categories

__all__ = ["StreamedTable", "bucket_count", "estimate_events", "stream_lead_table",
           "used_categories"]  # fmt: skip

ID, TARGET = "lead_id", "converted"
#: events per bucket, about: what bounds the memory of a streamed build
CHUNK_EVENTS = 1_000_000
#: fewer events than this are built in one process: starting workers would cost more
PARALLEL_EVENTS = 200_000
_BYTES_PER_EVENT = {".parquet": 45, ".pq": 45}  # text formats: ~250 bytes an event


@dataclass
class StreamedTable:
    """What :func:`stream_lead_table` wrote."""

    path: Path
    rows: int
    columns: list[str]
    converted: int | None
    builder: LeadFeatureBuilder
    load: EventLoad
    notes: list[str] = field(default_factory=list)
    buckets: int = 0
    #: wall seconds of each pass: partition, scan, fit, rows (what to look at first
    #: when the job is slow); with workers, the fit runs beside the scan, and its seconds
    #: are those it took beyond it
    seconds: dict[str, float] = field(default_factory=dict)


def estimate_events(paths: list[str | Path]) -> int | None:
    """How many events the inputs hold (Parquet: exactly; text files: from their size);
    ``None`` for database sources."""
    total = 0
    for item in paths:
        if source_kind(item) == "sql":
            return None
        for path in resolve_files(item):
            suffix = base_suffix(path)
            if suffix in PARQUET_SUFFIXES:
                total += pq.ParquetFile(path).metadata.num_rows
            else:
                total += path.stat().st_size // _BYTES_PER_EVENT.get(suffix, 250)
    return total


def bucket_count(paths: list[str | Path], chunk_events: int) -> int:
    """Buckets for about ``chunk_events`` events each (16 when the size is unknown)."""
    return _count(estimate_events(paths), chunk_events)


def _count(events: int | None, chunk_events: int) -> int:
    return 16 if events is None else max(1, math.ceil(events / chunk_events))


def stream_lead_table(
    events: str | Path | list[str | Path],
    out: str | Path,
    *,
    outcomes: TableLike | None = None,
    cutoff: str | pd.Timestamp | None = None,
    as_of: str | pd.Timestamp | None = None,
    builder: LeadFeatureBuilder | None = None,
    settings: FeatureSettings | None = None,
    chunk_events: int = CHUNK_EVENTS,
    workdir: str | Path | None = None,
    batch_rows: int = BATCH_ROWS,
    workers: int | None = None,
) -> StreamedTable:
    """Build the lead table of :func:`~leadscore.features.table.build_lead_table` a bucket
    of leads at a time, writing it to ``out`` (``.parquet`` or ``.csv``).

    Parameters
    ----------
    events:
        Event files, folders, globs or sources.
    out:
        The table to write.
    outcomes:
        Lead id, converted and outcome time (training); without them the table is for
        scoring, as of ``as_of`` (default: the latest event).
    cutoff:
        Use no event at or after this time.
    as_of:
        Scoring time for recency features (scoring only).
    builder:
        A fitted builder to reuse; else one is fitted on a sample of the leads.
    settings:
        Feature settings for a new builder.
    chunk_events:
        About how many events the job holds at a time: memory grows with it, time hardly.
        With several workers, each bucket holds ``chunk_events / workers`` events, as
        every worker holds one.
    workdir:
        Where the buckets go while the job runs (default: the system's temporary folder).
    batch_rows:
        Rows of a Parquet input normalised at a time.
    workers:
        Processes that read and build the buckets (default: the cores this process may
        use; 1: all in this process). Inputs under :data:`PARALLEL_EVENTS` events are
        built in this process whatever the number. The rows are the same either way;
        they come out in bucket order, so their order follows the number of buckets.

    Example
    -------
    >>> from leadscore.demo import write_demo_events
    >>> demo = write_demo_events(Path("demo"), leads=200, new_leads=50)
    >>> built = stream_lead_table(demo["events"], "leads.parquet", outcomes=demo["outcomes"],
    ...                           chunk_events=1000)
    >>> built.rows, len(built.columns), built.buckets
    (200, 85, 5)
    """
    paths = [events] if isinstance(events, (str, Path)) else list(events)
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in CSV_SUFFIXES | PARQUET_SUFFIXES:
        raise DataError(f"cannot tell the output format of {out}: use a .csv or .parquet file name")
    if chunk_events < 1:
        raise DataError(f"chunk_events must be a positive number of events, got {chunk_events}")
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise DataError(f"workers must be a positive number of processes, got {workers}")
    cutoff_ts = pd.Timestamp(cutoff) if cutoff is not None else None
    estimate = estimate_events(paths)
    if estimate is not None and estimate < PARALLEL_EVENTS:
        workers = 1
    count = _count(estimate, max(1, chunk_events // workers))
    fitting = builder is None
    if builder is not None and not hasattr(builder, "steps_"):
        raise DataError("the feature builder is not fitted: call fit() on training events")
    laps = _Laps()
    # the workers stop (the second context closes first) before their folder goes
    with (
        tempfile.TemporaryDirectory(prefix="leadscore-buckets-", dir=workdir) as tmp,
        _workers(workers) as pool,
    ):
        labels, buckets = _split(paths, outcomes, Path(tmp), count, cutoff_ts, batch_rows,
                                 pool, lowest=FIT_SAMPLE if fitting else 0)  # fmt: skip
        laps.lap("partition")
        fit = FitRequest(labels, cutoff_ts, settings) if fitting else None
        scan = scan_buckets(buckets, labels, cutoff_ts, pool, fit)
        laps.lap("scan")
        notes: list[str] = []
        if labels is not None:
            check_labels(labels, scan, cutoff_ts, notes)
        if fit is not None:
            builder = fitted_builder(scan, fit, pool)
            if labels is None:
                notes.append(
                    "no fitted builder given: fitted on these events. To score leads for "
                    "a model, pass the builder saved when its training table was built "
                    "(--builder)."
                )
        assert builder is not None
        if labels is not None and not builder.as_of_features_:
            notes.append(
                "recency features (days since last event, recent events) are left out: "
                "each lead's outcome time differs, and measured at the outcome they give "
                "the answer away"
            )
        when = pd.Timestamp(as_of) if as_of is not None and labels is None else None
        if when is None and scan.latest is not None:
            when = pd.Timestamp(scan.latest)
        laps.lap("fit")
        rows = _rows(buckets, labels, builder, cutoff_ts, when, pool)
        written = _write(rows, labels is not None, out)
        laps.lap("rows")
    quarantine = pd.concat(buckets.quarantine, ignore_index=True) if buckets.quarantine else None
    load = EventLoad(
        pd.DataFrame(),
        quarantine if quarantine is not None else quarantine_frame([]),
        scan.duplicates,
        buckets.files,
        buckets.notes,
        counted=(scan.events, scan.leads),
    )
    rows_written, columns, converted = written
    return StreamedTable(
        out, rows_written, columns, converted, builder, load, notes, count, laps.seconds
    )


class _Laps:
    """Wall seconds from one lap to the next, by name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = now - self._last
        self._last = now


def _workers(workers: int) -> contextlib.AbstractContextManager[BucketPool | None]:
    """Worker processes, or ``None`` to work in this process."""
    return BucketPool(workers) if workers > 1 else contextlib.nullcontext()


def _split(
    paths: list[str | Path],
    outcomes: TableLike | None,
    folder: Path,
    count: int,
    cutoff: pd.Timestamp | None,
    batch_rows: int,
    pool: BucketPool | None,
    lowest: int,
) -> tuple[LabelBuckets | None, Buckets]:
    """The outcomes and the events split into buckets (keeping the ``lowest`` lead
    hashes); with workers, the outcomes are split in one while this process partitions
    the events."""
    if pool is None:
        labels = None if outcomes is None else split_outcomes(outcomes, folder, count, cutoff)
        return labels, partition_events(paths, folder, count, batch_rows, lowest)
    return pool.split_beside(paths, outcomes, folder, count, cutoff, batch_rows, lowest)


def _rows(
    buckets: Buckets,
    labels: LabelBuckets | None,
    builder: LeadFeatureBuilder,
    cutoff: pd.Timestamp | None,
    when: pd.Timestamp | None,
    pool: BucketPool | None,
) -> Iterator[tuple[pd.DataFrame | pa.Table, bool] | None]:
    """Each bucket's rows (:func:`~leadscore.features.stream_work.bucket_rows`), in
    bucket order: built here, or by the workers with the builder pickled once."""
    if pool is None:
        for b in range(buckets.count):
            yield bucket_rows(buckets, labels, builder, cutoff, when, b)
        return
    yield from pool.rows(buckets, labels, builder, cutoff, when)


def _write(
    rows: Iterable[tuple[pd.DataFrame | pa.Table, bool] | None], labelled: bool, out: Path
) -> tuple[int, list[str], int | None]:
    """Append each bucket's rows to ``out``: (rows, columns, converted)."""
    sink = TableSink(out)
    converted = 0 if labelled else None
    try:
        for done in rows:
            if done is None:
                continue
            table, complete = done
            if converted is not None:
                converted += _converted(table)
            sink.add(table, complete=complete)
        sink.close()
    except BaseException:
        sink.abort()
        raise
    return sink.rows, sink.columns, converted


def _converted(rows: pd.DataFrame | pa.Table) -> int:
    """How many of the rows converted."""
    if isinstance(rows, pa.Table):
        return int(pc.sum(pc.equal(rows[TARGET], "yes")).as_py() or 0)
    return int((rows[TARGET] == "yes").sum())
