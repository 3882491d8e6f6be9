"""What the streamed features' worker processes run: each task reads its bucket from
disk and hands back its counts, the fitted builder, or a file beside the buckets (the
sample's events in a bucket, or the bucket's rows), which the job reads in bucket order.

Every task runs exactly the functions of :mod:`~leadscore.features.stream_work`, so the
rows are those of a single-process build; :mod:`~leadscore.features.stream_pool` gives
the tasks out.
"""

from __future__ import annotations

import ctypes
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from leadscore.data.events import events_frame
from leadscore.features.build import FIT_COLUMNS, FeatureSettings, LeadFeatureBuilder
from leadscore.features.partition import Buckets, LabelBuckets, split_outcomes
from leadscore.features.stream_work import (
    BucketRead,
    bucket_rows,
    fit_on_sample,
    read_bucket,
    sample_table,
)


@dataclass
class ScanResult:
    """A bucket's first read as a worker hands it back: its counts, its candidates for
    the fit sample and the events of those hashed at most a bound known before the read
    (the partition's lowest hashes), which hold the sample's events whenever every lead
    with events is a candidate; else the sample's events are asked for once the sample is
    known (:func:`sample_task`)."""

    repeated: int
    events: int
    leads: int
    labelled: int
    latest: int | None
    candidates: pd.Index | None  # None: no lead has events in the bucket
    sample: str | None = None  # the file of the events hashed at most the bound
    candidate_hashes: np.ndarray | None = None  # the candidates' lead hashes

    @classmethod
    def of(
        cls, read: BucketRead, highest: np.uint64 | None = None, sample_path: Path | None = None
    ) -> ScanResult:
        """The read's result; with ``highest``, its events of the candidates hashed at most
        that are written to ``sample_path`` (when there are any)."""
        candidates = hashes = None
        if read.present is not None:
            candidates, hashes = read.candidates(), read.hashes()[read.present]
        sample = None
        if highest is not None and sample_path is not None:
            table = sample_table(read, highest)
            sample = None if table is None else write_arrow(table, sample_path)
        return cls(read.repeated, len(read.events), read.leads, read.labelled, read.latest,
                   candidates, sample, hashes)  # fmt: skip


def scan_task(
    buckets: Buckets,
    labels: LabelBuckets | None,
    cutoff: pd.Timestamp | None,
    b: int,
    highest: np.uint64 | None = None,
) -> ScanResult:
    """Read bucket ``b`` clean (kept so for the second pass): its counts, candidates and
    the events of the candidates hashed at most ``highest`` (none when ``None``), as a
    file beside the buckets.

    Parameters
    ----------
    buckets, labels, cutoff, b:
        As for :func:`~leadscore.features.stream_work.read_bucket`.
    highest:
        The highest lead hash whose events come back.

    Example
    -------
    >>> from leadscore.demo import write_demo_events
    >>> from leadscore.features.partition import partition_events
    >>> demo = write_demo_events(Path("demo"), leads=40, new_leads=5)
    >>> buckets = partition_events(demo["events"], Path("buckets"), count=2)
    >>> results = [scan_task(buckets, None, None, b) for b in range(2)]
    >>> sum(r.leads for r in results), sum(r.events + r.repeated for r in results) == buckets.events
    (40, True)
    """
    read = read_bucket(buckets, labels, cutoff, b)
    result = ScanResult.of(read, highest, buckets.folder / f"sample-{b:05d}.arrow")
    del read
    release_memory()
    return result


def sample_task(buckets: Buckets, b: int, leads: np.ndarray) -> str | None:
    """Bucket ``b``'s clean events of ``leads`` (the fit sample's leads in this bucket), in
    the columns the fit reads, written as a file beside the buckets: its path (``None``:
    no event).

    Parameters
    ----------
    buckets:
        The events' buckets.
    b:
        The bucket.
    leads:
        Lead ids.

    Example
    -------
    >>> from leadscore.demo import write_demo_events
    >>> from leadscore.features.partition import partition_events
    >>> demo = write_demo_events(Path("demo"), leads=40, new_leads=5)
    >>> buckets = partition_events(demo["events"], Path("buckets"), count=1)
    >>> events = scan_task(buckets, None, None, 0).events
    >>> sample_task(buckets, 0, np.array(["no such lead"], dtype=object)), events > 0
    (None, True)
    """
    part = buckets.settled_leads(b, leads, FIT_COLUMNS)
    path = write_arrow(part, buckets.folder / f"chosen-{b:05d}.arrow") if part.num_rows else None
    del part
    release_memory()
    return path


def fit_task(
    paths: list[str],
    chosen: np.ndarray,
    labels: LabelBuckets | None,
    cutoff: pd.Timestamp | None,
    settings: FeatureSettings | None,
) -> LeadFeatureBuilder:
    """The builder fitted (:func:`~leadscore.features.stream_work.fit_on_sample`) on the
    sample's events in the files ``paths`` (from :func:`scan_task` or :func:`sample_task`,
    removed once read), in a worker: the job's process goes on reading the buckets.

    Parameters
    ----------
    paths:
        The sample's events, by bucket.
    chosen:
        The fit sample's lead ids.
    labels, cutoff, settings:
        As for :func:`~leadscore.features.stream_work.fit_on_sample`.

    Example
    -------
    >>> from leadscore.demo import write_demo_events
    >>> from leadscore.features.partition import partition_events
    >>> demo = write_demo_events(Path("demo"), leads=40, new_leads=5)
    >>> buckets = partition_events(demo["events"], Path("buckets"), count=1)
    >>> result = scan_task(buckets, None, None, 0, np.uint64(2**64 - 1))
    >>> builder = fit_task([result.sample], result.candidates.to_numpy(), None, None, None)
    >>> len(builder.steps_) > 0, Path(result.sample).exists()
    (True, False)
    """
    frames = sample_frames([read_and_remove(path) for path in paths])
    builder = fit_on_sample(frames, pd.Index(chosen, dtype=object), labels, cutoff, settings)
    del frames
    release_memory()
    return builder


#: the builder each worker loaded, by the path of its pickle (loaded once per worker)
_BUILDERS: dict[str, LeadFeatureBuilder] = {}


def write_task(
    buckets: Buckets,
    labels: LabelBuckets | None,
    builder_path: str,
    cutoff: pd.Timestamp | None,
    when: pd.Timestamp | None,
    b: int,
) -> tuple[str, bool] | None:
    """Bucket ``b``'s rows (:func:`~leadscore.features.stream_work.bucket_rows`) with the
    builder pickled at ``builder_path`` (read once per worker), written as an Arrow IPC
    file beside the buckets: its path, and whether the rows have the feature columns.
    The job reads the file (:func:`read_and_remove`) and appends it; pickled through a pipe, the
    rows cost it a copy and a conversion per bucket, in the one process every bucket
    passes through.

    Parameters
    ----------
    buckets, labels, cutoff, when, b:
        As for :func:`~leadscore.features.stream_work.bucket_rows`.
    builder_path:
        The fitted builder, pickled.

    Example
    -------
    >>> from leadscore.data.events import load_events
    >>> from leadscore.demo import write_demo_events
    >>> from leadscore.features.partition import partition_events
    >>> demo = write_demo_events(Path("demo"), leads=40, new_leads=5)
    >>> buckets = partition_events(demo["events"], Path("buckets"), count=1)
    >>> builder = LeadFeatureBuilder().fit(load_events(demo["events"]).events)
    >>> _ = Path("builder.pickle").write_bytes(pickle.dumps(builder))
    >>> path, complete = write_task(buckets, None, "builder.pickle", None, None, 0)
    >>> len(read_and_remove(path)), complete
    (40, True)
    """
    builder = _BUILDERS.get(builder_path)
    if builder is None:
        _BUILDERS.clear()
        with open(builder_path, "rb") as handle:
            builder = _BUILDERS[builder_path] = pickle.load(handle)
    done = bucket_rows(buckets, labels, builder, cutoff, when, b)
    if done is None:
        return None
    frame, complete = done
    table = pa.Table.from_pandas(frame, preserve_index=False)
    del frame, done
    path = write_arrow(table, buckets.folder / f"rows-{b:05d}.arrow")
    del table
    release_memory()
    return path, complete


def write_arrow(table: pa.Table, path: Path) -> str:
    """``table`` written as an Arrow IPC file at ``path``: how a worker hands back what
    is large (pickled through a pipe, it would cost the job a copy and a conversion, in
    the one process everything passes through)."""
    with pa.ipc.new_file(str(path), table.schema) as writer:
        writer.write_table(table)
    return str(path)


def read_and_remove(path: str) -> pa.Table:
    """A file :func:`write_arrow` wrote, read whole (a file that stays mapped could not
    be removed on Windows), and the file removed."""
    with pa.OSFile(path) as source:
        table = pa.ipc.open_file(source).read_all()
    Path(path).unlink()
    return table


def split_task(
    outcomes: Any, folder: Path, count: int, cutoff: pd.Timestamp | None, block_rows: int
) -> LabelBuckets:
    """:func:`~leadscore.features.partition.split_outcomes` in a worker (beside the
    partition of the events in the job's process), ``block_rows`` outcomes at a time.

    Parameters
    ----------
    outcomes, folder, count, cutoff:
        As for :func:`~leadscore.features.partition.split_outcomes`.
    block_rows:
        Outcome rows read at a time.

    Example
    -------
    >>> from leadscore.demo import write_demo_events
    >>> demo = write_demo_events(Path("demo"), leads=40, new_leads=5)
    >>> labels = split_task(demo["outcomes"], Path("demo"), 2, None, block_rows=10)
    >>> labels.rows, len(labels.read(0)) + len(labels.read(1))
    (40, 40)
    """
    labels = split_outcomes(outcomes, folder, count, cutoff, block_rows=block_rows)
    release_memory()
    return labels


def sample_frames(parts: list[pa.Table]) -> list[pd.DataFrame]:
    """The fit sample's parts (:func:`sample_task`, :func:`scan_task`) as one frame, or none:
    Arrow unifies the parts' text values faster than pandas does.

    Parameters
    ----------
    parts:
        Clean events, as Arrow tables.

    Example
    -------
    >>> from leadscore.data.event_arrow import EVENT_ARROW_SCHEMA
    >>> sample_frames([]), len(sample_frames([EVENT_ARROW_SCHEMA.empty_table()]))
    ([], 1)
    """
    if not parts:
        return []
    table = pa.concat_tables(parts).combine_chunks()
    parts.clear()  # each part's memory goes as soon as the table holds its rows
    return [events_frame(table)]


def release_memory() -> None:
    """Hand freed memory back to the system: Arrow's pool's, and the C heap's (glibc keeps
    freed blocks for the next allocations, so a process that held a bucket, or the fit,
    would go on holding as much beside the workers).

    Example
    -------
    >>> release_memory()
    """
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):  # not glibc
        return None


_LIBC = _libc()
