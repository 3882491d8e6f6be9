"""Worker processes for the streamed features: buckets built on every core.

pandas holds the GIL through most of a bucket's work, so threads gain nothing: each
bucket is read, cleaned and transformed in a worker process instead, and the builder is
fitted in one. The buckets are already files, so a task carries a bucket's number (and the
folder's description), not its events; what comes back is a bucket's counts and its
candidates for the fit sample, the fitted builder, or a file beside the buckets: the
sample's events in a bucket, or the bucket's rows, which the job appends to the output in
bucket order. Every worker runs exactly the functions of
:mod:`~leadscore.features.stream_work`, so the rows are those of a single-process build.

The tasks themselves are in :mod:`~leadscore.features.stream_tasks`. Workers are forked
from a server process that has imported this module (and so the tasks) once
(``forkserver``): starting one costs a fork, not another import of pandas, and nothing of
the job's own memory is copied into it. As with any such server, a worker imports the
script that started the job: a script must start it under ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from leadscore.errors import DataError
from leadscore.features import partition
from leadscore.features.build import FeatureSettings, LeadFeatureBuilder
from leadscore.features.partition import Buckets, LabelBuckets, lead_buckets, partition_events
from leadscore.features.stream_tasks import (
    ScanResult,
    fit_task,
    read_and_remove,
    release_memory,
    sample_task,
    scan_task,
    split_task,
    write_task,
)
from leadscore.features.text import TOPIC_MODULES


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
            # the server imports this module (and with it pandas and the builder) and what
            # the topics need (scikit-learn, imported lazily elsewhere) once
            context.set_forkserver_preload([__name__, *TOPIC_MODULES])
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

    def sample_events(self, buckets: Buckets, chosen: np.ndarray) -> list[str]:
        """The files of the clean events of the ``chosen`` leads (the fit sample), read by
        the workers from the buckets they are in, in bucket order as a single process keeps
        them (:func:`fit_task` reads them)."""
        where = lead_buckets(chosen, buckets.count)
        slim = Buckets(buckets.folder, buckets.count)
        tasks = ((sample_task, (slim, int(b), chosen[where == b])) for b in np.unique(where))
        return [path for path in self.ordered(tasks, "reading the fit sample") if path]

    def fit(
        self,
        paths: list[str],
        chosen: np.ndarray,
        labels: LabelBuckets | None,
        cutoff: pd.Timestamp | None,
        settings: FeatureSettings | None,
    ) -> Future:
        """The builder fitted by a worker (:func:`fit_task`): its future, for
        :meth:`result`."""
        return self.submit(fit_task, paths, chosen, labels, cutoff, settings)

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
            yield read_and_remove(path), complete
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
