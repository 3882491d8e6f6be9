"""Lead features streamed bucket by bucket: memory bounded by a bucket, not by the input.

:func:`stream_lead_table` builds the same table as
:func:`~leadscore.features.table.build_lead_table` (the same rows and values), for inputs
larger than memory:

1. every event is normalised and written to its lead's bucket on disk
   (:func:`~leadscore.features.partition.partition_events`); outcomes are split the same
   way;
2. each bucket is read back clean (duplicates removed, in time order) and kept so, to
   count the events and leads, find the latest event and keep the events of the fit sample
   (:func:`~leadscore.features.build.fit_sample`: the leads with the lowest id hashes,
   whichever bucket they are in);
3. the builder is fitted on that sample (or a fitted one is reused);
4. each bucket runs exactly :meth:`LeadFeatureBuilder.transform` — the function a Spark
   partition runs — with its leads' cutoffs, and its rows are appended to the output.

Rows come out bucket by bucket (a lead's row does not depend on which bucket it is in).

With ``workers`` > 1 (the default on a machine of several cores), worker processes
(:mod:`~leadscore.features.stream_pool`) split the outcomes while this process partitions
the events, read the buckets clean, pick the fit sample's events out of them, and
transform the buckets, each running the same code
(:mod:`~leadscore.features.stream_work`) a single process would; this process appends the
rows in bucket order. The fit alone runs here, with the workers stopped: it is the job's
largest step in memory. Each worker holds a bucket, so a bucket holds ``chunk_events /
workers`` events, and the job about as much memory as with one process.

Events defined outcomes (``--conversion-event``) and CRM joins (``--leads``) are built in
memory (:func:`~leadscore.features.table.build_lead_table`).
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from leadscore.data.events import BATCH_ROWS, EventLoad, concat_events, quarantine_frame
from leadscore.data.sources import TableLike, resolve_files, source_kind
from leadscore.data.table_files import CSV_SUFFIXES, PARQUET_SUFFIXES, base_suffix
from leadscore.errors import DataError
from leadscore.features.build import (
    FIT_SAMPLE,
    FeatureSettings,
    LeadFeatureBuilder,
)
from leadscore.features.labels import cutoffs_for
from leadscore.features.partition import (
    Buckets,
    LabelBuckets,
    lead_buckets,
    partition_events,
    split_outcomes,
)
from leadscore.features.sink import TableSink
from leadscore.features.stream_pool import (
    BucketPool,
    ScanResult,
    default_workers,
    release_memory,
    sample_frames,
)
from leadscore.features.stream_sample import SamplePool
from leadscore.features.stream_work import (
    bucket_rows,
    read_bucket,
    rows_kept,
    sample_part,
    used_categories,
)
from leadscore.features.vector import text_positions

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
    #: when the job is slow)
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


@dataclass
class _Scan:
    """What the first read of the buckets learns."""

    events: int = 0
    leads: int = 0
    duplicates: int = 0
    latest: int | None = None  # ns, the latest event the features may use
    labelled_with_events: int = 0
    sample: list[pd.DataFrame] = field(default_factory=list)  # events of sample candidates
    pool: SamplePool = field(default_factory=SamplePool)
    #: with workers: the events of the candidates hashed at most ``bound``, by bucket
    held: list[pa.Table] = field(default_factory=list)
    bound: np.uint64 | None = None


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
    laps = _Laps()
    with tempfile.TemporaryDirectory(prefix="leadscore-buckets-", dir=workdir) as tmp:
        folder, parts = Path(tmp), []
        with _workers(workers) as pool:  # they stop before their folder goes
            fitting = builder is None
            labels, buckets = _split(paths, outcomes, folder, count, cutoff_ts, batch_rows,
                                     pool, lowest=FIT_SAMPLE if fitting else 0)  # fmt: skip
            laps.lap("partition")
            scan = _scan(buckets, labels, cutoff_ts, pool, fitting)
            notes: list[str] = []
            if labels is not None:
                _check_labels(labels, scan, cutoff_ts, notes)
            if fitting and pool is not None:
                parts = _held_sample(scan) or pool.sample_events(buckets, scan.pool.ids)
        laps.lap("scan")
        if workers > 1:  # the workers have stopped before the sample becomes a frame
            scan.sample = sample_frames(parts)
            release_memory()  # what the partition and the scan held, before the fit
        # the fit, the job's largest step, has the memory alone
        if builder is None:
            builder = _fit(scan, labels, cutoff_ts, settings)
            if labels is None:
                notes.append(
                    "no fitted builder given: fitted on these events. To score leads for a "
                    "model, pass the builder saved when its training table was built "
                    "(--builder)."
                )
        elif not hasattr(builder, "steps_"):
            raise DataError("the feature builder is not fitted: call fit() on training events")
        if labels is not None and not builder.as_of_features_:
            notes.append(
                "recency features (days since last event, recent events) are left out: each "
                "lead's outcome time differs, and measured at the outcome they give the answer "
                "away"
            )
        when = pd.Timestamp(as_of) if as_of is not None and labels is None else None
        if when is None and scan.latest is not None:
            when = pd.Timestamp(scan.latest)
        if workers > 1:
            release_memory()  # what the fit held, before the workers take theirs
        laps.lap("fit")
        with _workers(workers) as pool:
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


def _scan(
    buckets: Buckets,
    labels: LabelBuckets | None,
    cutoff: pd.Timestamp | None,
    pool: BucketPool | None = None,
    fitting: bool = True,
) -> _Scan:
    """Read each bucket clean once: counts, the latest usable event and the fit sample.

    With workers, each hands back the events of its candidates hashed at most the
    partition's :data:`FIT_SAMPLE`-th lowest lead hash: the sample is among them whenever
    every lead with events is a candidate (:func:`_held_sample`)."""
    scan = _Scan()
    if pool is None:
        for b in range(buckets.count):
            read = read_bucket(buckets, labels, cutoff, b)
            _count_bucket(scan, ScanResult.of(read), partial(sample_part, read))
            del read
        return scan
    if fitting:
        lowest = buckets.lowest_hashes
        full = len(lowest) >= FIT_SAMPLE
        scan.bound = lowest[FIT_SAMPLE - 1] if full else np.uint64(np.iinfo(np.uint64).max)
    for result in pool.scan(buckets, labels, cutoff, scan.bound):
        _count_bucket(scan, result, lambda _: None)  # the sample's events: in held
        if result.sample is not None:
            scan.held.append(result.sample)
    return scan


def _held_sample(scan: _Scan) -> list[pa.Table]:
    """The events the workers handed back in the scan when they hold the whole fit sample
    (its highest hash within their bound), else none (they are dropped)."""
    held, scan.held = scan.held, []
    if scan.bound is None or not len(scan.pool) or scan.pool.hashes[-1] > scan.bound:
        return []
    return held


def _count_bucket(
    scan: _Scan, read: ScanResult, part_of: Callable[[np.uint64], pd.DataFrame | None]
) -> None:
    """Add a bucket's first read to the scan; ``part_of(highest)``: its events of the
    leads hashed at most ``highest``."""
    scan.duplicates += read.repeated
    scan.events += read.events
    if read.candidates is None:
        return
    scan.leads += read.leads
    scan.labelled_with_events += read.labelled
    if read.latest is not None:
        scan.latest = read.latest if scan.latest is None else max(scan.latest, read.latest)
    _keep_sample(scan, read.candidates, part_of, read.candidate_hashes)


def _keep_sample(
    scan: _Scan,
    ids: pd.Index,
    part_of: Callable[[np.uint64], pd.DataFrame | None],
    hashes: np.ndarray | None = None,
) -> None:
    """Keep the events of the leads that may still be in the fit sample: the
    :data:`FIT_SAMPLE` lowest hashes so far (the sample is the lowest over all buckets);
    ``hashes``: the ids' lead hashes, when the bucket's read has them."""
    pool = scan.pool.merged(np.asarray(ids, dtype=object), FIT_SAMPLE, hashes)
    if pool is scan.pool and len(pool):
        return  # none joined: the pool, its highest hash and what is held stay
    scan.pool = pool
    if not len(pool):
        return
    # hashes above the pool's highest can never come back: compare numbers, not ids
    highest = pool.hashes[-1]
    scan.sample = [_prune(part, part["_hash"].to_numpy() <= highest) for part in scan.sample]
    scan.sample = [part for part in scan.sample if len(part)]
    kept = part_of(highest)
    if kept is not None and len(kept):
        scan.sample.append(kept)


def _prune(part: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """A held part without the leads that left the sample, once they are a quarter of it:
    pruning every part after every bucket would cost time quadratic in the buckets."""
    return rows_kept(part, mask) if mask.sum() < 0.75 * len(mask) else part


def _check_labels(
    labels: LabelBuckets, scan: _Scan, cutoff: pd.Timestamp | None, notes: list[str]
) -> None:
    """The notes (and the error) :func:`build_lead_table` gives about the outcomes."""
    if scan.labelled_with_events == 0:
        raise DataError(
            "none of the leads in the outcomes has events: are the ids the same in both?"
        )
    missing = labels.rows - scan.labelled_with_events
    if missing:
        notes.append(f"{missing:,} leads in the outcomes have no events")
    if not labels.timed and cutoff is None:
        notes.append(
            "the outcomes have no times: features use every event (give outcome times or "
            "--cutoff to keep post-outcome events out)"
        )


def _fit(
    scan: _Scan, labels: LabelBuckets | None, cutoff: pd.Timestamp | None,
    settings: FeatureSettings | None,
) -> LeadFeatureBuilder:  # fmt: skip
    """A builder fitted on the sample's events (all of them, in lead order by bucket)."""
    if not scan.sample:
        raise DataError("no events before the cutoffs: nothing to learn features from")
    chosen = pd.Index(scan.pool.ids)
    parts = []
    while scan.sample:  # each held part freed as soon as its sample rows are taken
        part = scan.sample.pop(0).drop(columns="_hash", errors="ignore")
        leads = part["lead_id"].cat  # chosen or not is asked of each lead once, not each row
        wanted = text_positions(leads.categories, chosen) >= 0
        mask = np.append(wanted, False)[leads.codes.to_numpy()]
        parts.append(part if mask.all() else part[mask])
        del part
    frame = concat_events(parts)
    del parts
    builder = LeadFeatureBuilder(settings)
    if labels is None:
        return builder.fit(frame)
    ids, where = chosen.to_numpy(object), lead_buckets(chosen, labels.count)
    sample_labels = pd.concat(
        [labels.read_leads(b, pa.array(ids[where == b], pa.string())) for b in np.unique(where)],
        ignore_index=True,
    )
    cutoffs = cutoffs_for(sample_labels, cutoff)
    return builder.fit(
        frame, cutoffs, leads=pd.Index(sample_labels[ID]), as_of_features=not labels.cutoffs_vary
    )


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
