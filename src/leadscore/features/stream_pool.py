"""Worker processes for the streamed features: buckets built on every core.

pandas holds the GIL through most of a bucket's work, so threads gain nothing: each
bucket is read, cleaned and transformed in a worker process instead. The buckets are
already files, so a task carries a bucket's number (and the folder's description), not its
events; what comes back is a bucket's counts and its candidates for the fit sample, the
sample's events in that bucket, or the bucket's rows, which the job appends to the output
in bucket order. Every worker runs exactly the functions of
:mod:`~leadscore.features.stream_work`, so the rows are those of a single-process build.

Workers are forked from a server process that has imported this module once
(``forkserver``): starting one costs a fork, not another import of pandas, and nothing of
the job's own memory is copied into it. As with any such server, a worker imports the
script that started the job: a script must start it under ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import pickle
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from leadscore.data.events import events_frame
from leadscore.errors import DataError
from leadscore.features import partition
from leadscore.features.build import LeadFeatureBuilder
from leadscore.features.partition import (
    Buckets,
    LabelBuckets,
    lead_buckets,
    partition_events,
    split_outcomes,
)
from leadscore.features.stream_work import BucketRead, bucket_rows, read_bucket, sample_table


def default_workers() -> int:
    """The cores this process may run on: the default number of workers (1 in a daemonic
    process, which may not start processes of its own).

    Example
    -------
    >>> default_workers() >= 1
    True
    """
    if multiprocessing.current_process().daemon:
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


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
    sample: pa.Table | None = None
    candidate_hashes: np.ndarray | None = None  # the candidates' lead hashes

    @classmethod
    def of(cls, read: BucketRead, highest: np.uint64 | None = None) -> ScanResult:
        candidates = hashes = None
        if read.present is not None:
            candidates, hashes = read.candidates(), read.hashes()[read.present]
        sample = None if highest is None else sample_table(read, highest)
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
    the events of the candidates hashed at most ``highest`` (none when ``None``).

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
    result = ScanResult.of(read_bucket(buckets, labels, cutoff, b), highest)
    release_memory()
    return result


def sample_task(buckets: Buckets, b: int, leads: np.ndarray) -> pa.Table:
    """Bucket ``b``'s clean events of ``leads`` (the fit sample's leads in this bucket).

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
    >>> part = sample_task(buckets, 0, np.array(["no such lead"], dtype=object))
    >>> part.num_rows, events > 0
    (0, True)
    """
    part = buckets.settled_leads(b, leads)
    release_memory()
    return part


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
    The job reads the file (:func:`read_rows`) and appends it; pickled through a pipe, the
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
    >>> len(read_rows(path)), complete
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
    path = buckets.folder / f"rows-{b:05d}.arrow"
    with pa.ipc.new_file(str(path), table.schema) as writer:
        writer.write_table(table)
    del table
    release_memory()
    return str(path), complete


def read_rows(path: str) -> pa.Table:
    """The rows :func:`write_task` wrote, read whole (a file that stays mapped could not
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
    """The fit sample's parts (:meth:`BucketPool.sample_events`) as one frame, or none:
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


def _stopped(doing: str) -> DataError:
    return DataError(
        f"a worker process stopped while {doing} (killed, or out of memory?): nothing was "
        "written. Give fewer --chunk-events, or --workers 1 to build in one process"
    )


class BucketPool:
    """Worker processes for the job's buckets (``workers`` of them), results in order.

    Parameters
    ----------
    workers:
        How many processes.

    Example
    -------
    >>> with BucketPool(2) as pool:
    ...     list(pool.ordered(((max, (i, 2)) for i in range(4)), "comparing numbers"))
    [2, 2, 2, 3]
    """

    def __init__(self, workers: int) -> None:
        if "forkserver" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("forkserver")
            # the server imports this module (and with it pandas and the builder) once
            context.set_forkserver_preload([__name__])
        else:  # Windows: each worker imports them
            context = multiprocessing.get_context("spawn")
        self.workers = workers
        self.executor = ProcessPoolExecutor(workers, mp_context=context)
        self._starter = ThreadPoolExecutor(1, thread_name_prefix="leadscore-pool")

    def submit_soon(self, func: Callable[..., Any], *args: Any) -> Future:
        """:meth:`submit` from a thread, for a caller with work of its own meanwhile: the
        first task waits for the server to import pandas and the rest (two seconds)."""
        return self._starter.submit(self.submit, func, *args)

    def __enter__(self) -> BucketPool:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.close(failed=kind is not None)

    def submit(self, func: Callable[..., Any], *args: Any) -> Future:
        try:
            return self.executor.submit(func, *args)
        except BrokenProcessPool:
            raise _stopped("giving out a bucket") from None

    def result(self, future: Future, doing: str) -> Any:
        """The task's result; a worker that died (killed, out of memory) is said plainly.
        An error raised in a worker is raised here as it was."""
        try:
            return future.result()
        except BrokenProcessPool:
            raise _stopped(doing) from None

    def ordered(
        self,
        tasks: Iterable[tuple[Callable[..., Any], tuple]],
        doing: str,
        ahead: int | None = None,
    ) -> Iterator[Any]:
        """The results of ``tasks`` (each ``(function, arguments)``) in their order, with at
        most ``ahead`` (default: one more than the workers) given out and not yet taken:
        each task's arguments are made only when it is given out, and results never pile
        up in this process."""
        ahead = ahead or self.workers + 1
        pending: deque[Future] = deque()
        tasks = iter(tasks)
        for task, args in tasks:
            pending.append(self.submit(task, *args))
            if len(pending) >= ahead:
                break
        while pending:
            done = self.result(pending.popleft(), doing)
            yield done
            del done
            for task, args in tasks:
                pending.append(self.submit(task, *args))
                break

    def split_beside(
        self,
        paths: list[str | Path],
        outcomes: Any,
        folder: Path,
        count: int,
        cutoff: pd.Timestamp | None,
        batch_rows: int,
        lowest: int = 0,
    ) -> tuple[LabelBuckets | None, Buckets]:
        """The events partitioned by this process (keeping the ``lowest`` lead hashes)
        while the workers start and one splits the outcomes
        (:func:`~leadscore.features.partition.split_outcomes`)."""
        block_rows = partition.OUTCOME_ROWS  # read here: a worker would not see it patched
        task = (os.getpid,) if outcomes is None else (split_task, outcomes, folder, count,
                                                      cutoff, block_rows)  # fmt: skip
        given = self.submit_soon(*task)
        try:
            buckets = partition_events(paths, folder, count, batch_rows, lowest)
        except Exception:
            # the outcomes' error first, as in one process, where they are split first
            self.result(given.result(), "splitting the outcomes")
            raise
        done = self.result(given.result(), "splitting the outcomes")
        release_memory()  # what the partition held, before the workers take theirs
        return (None if outcomes is None else done), buckets

    def scan(
        self,
        buckets: Buckets,
        labels: LabelBuckets | None,
        cutoff: pd.Timestamp | None,
        highest: np.uint64 | None = None,
    ) -> Iterator[ScanResult]:
        """Each bucket read clean by a worker (:func:`scan_task`), in bucket order, with
        the events of its candidates hashed at most ``highest``."""
        slim = Buckets(buckets.folder, buckets.count)  # what a worker needs of them
        tasks = ((scan_task, (slim, labels, cutoff, b, highest)) for b in range(buckets.count))
        return self.ordered(tasks, "reading the buckets")

    def sample_events(self, buckets: Buckets, chosen: np.ndarray) -> list[pa.Table]:
        """The clean events of the ``chosen`` leads (the fit sample), read by the workers
        from the buckets they are in, in bucket order as a single process keeps them
        (:func:`sample_frames` makes them the fit's frame)."""
        where = lead_buckets(chosen, buckets.count)
        slim = Buckets(buckets.folder, buckets.count)
        tasks = ((sample_task, (slim, int(b), chosen[where == b])) for b in np.unique(where))
        return [part for part in self.ordered(tasks, "reading the fit sample") if part.num_rows]

    def rows(
        self,
        buckets: Buckets,
        labels: LabelBuckets | None,
        builder: LeadFeatureBuilder,
        cutoff: pd.Timestamp | None,
        when: pd.Timestamp | None,
    ) -> Iterator[tuple[pa.Table, bool] | None]:
        """Each bucket's rows (:func:`write_task`), in bucket order, the builder pickled
        once into the buckets' folder."""
        path = buckets.folder / "builder.pickle"
        with path.open("wb") as handle:
            pickle.dump(builder, handle, protocol=pickle.HIGHEST_PROTOCOL)
        slim, builder_path = Buckets(buckets.folder, buckets.count), str(path)
        tasks = (
            (write_task, (slim, labels, builder_path, cutoff, when, b))
            for b in range(buckets.count)
        )
        for done in self.ordered(tasks, "building the leads' rows"):
            if done is None:
                yield None
                continue
            path, complete = done
            yield read_rows(path), complete
            del done
            release_memory()  # a bucket's rows, once the caller has written them

    def close(self, failed: bool = False) -> None:
        """Stop the workers: at once when the job failed (nothing they would still write
        is wanted), else when they are done."""
        self._starter.shutdown(wait=True)
        if failed:
            for process in list(getattr(self.executor, "_processes", {}).values()):
                process.terminate()
        self.executor.shutdown(wait=True, cancel_futures=True)
