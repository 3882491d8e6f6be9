"""The streamed features' first pass and their fit: each bucket read clean once, then the
builder fitted on the sample's events.

The first pass (:func:`scan_buckets`) counts the events, duplicates and leads, finds the
latest usable event and keeps the events of the fit sample's candidates (the leads whose
ids hash lowest, :class:`~leadscore.features.stream_sample.SamplePool`).

Buckets are ranges of lead hashes (:func:`~leadscore.features.partition.hash_buckets`),
read in order, so the sample is known once the pool is full and its highest hash lies in a
bucket already read: no lead of a later bucket can join it. With workers, the fit then
starts in one of them (:func:`~leadscore.features.stream_tasks.fit_task`) while the other
reads on; the fit no longer waits for the whole pass with a core idle.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from leadscore.errors import DataError
from leadscore.features.build import (
    FIT_SAMPLE,
    NOTHING_TO_FIT,
    FeatureSettings,
    LeadFeatureBuilder,
)
from leadscore.features.partition import Buckets, LabelBuckets, hash_buckets
from leadscore.features.stream_pool import BucketPool
from leadscore.features.stream_sample import SamplePool
from leadscore.features.stream_tasks import ScanResult
from leadscore.features.stream_work import fit_on_sample, read_bucket, rows_kept, sample_part


@dataclass
class Scan:
    """What the first read of the buckets learns."""

    events: int = 0
    leads: int = 0
    duplicates: int = 0
    latest: int | None = None  # ns, the latest event the features may use
    labelled_with_events: int = 0
    sample: list[pd.DataFrame] = field(default_factory=list)  # events of sample candidates
    pool: SamplePool = field(default_factory=SamplePool)
    #: with workers: the files of the events of the candidates hashed at most ``bound``
    held: list[str] = field(default_factory=list)
    bound: np.uint64 | None = None
    #: with workers: the fit, started in one of them once the sample is known
    fitting: Future | None = None


@dataclass
class FitRequest:
    """What the fit needs beside the sample: the outcomes, the cutoff and the settings."""

    labels: LabelBuckets | None
    cutoff: pd.Timestamp | None
    settings: FeatureSettings | None


def scan_buckets(
    buckets: Buckets,
    labels: LabelBuckets | None,
    cutoff: pd.Timestamp | None,
    pool: BucketPool | None = None,
    fit: FitRequest | None = None,
) -> Scan:
    """Read each bucket clean once: counts, the latest usable event and the fit sample.

    With workers, each hands back (as a file) the events of its candidates hashed at most
    the partition's :data:`FIT_SAMPLE`-th lowest lead hash, which hold the sample whenever
    every lead with events is a candidate; else the sample's events are read again once it
    is known. With ``fit``, the fit starts in a worker as soon as the sample is known
    (:attr:`Scan.fitting`)."""
    scan = Scan()
    if pool is None:
        for b in range(buckets.count):
            read = read_bucket(buckets, labels, cutoff, b)
            _count_bucket(scan, ScanResult.of(read), partial(sample_part, read))
            del read
        return scan
    if fit is not None:
        lowest = buckets.lowest_hashes
        full = len(lowest) >= FIT_SAMPLE
        scan.bound = lowest[FIT_SAMPLE - 1] if full else np.uint64(np.iinfo(np.uint64).max)
    started = False
    for b, result in enumerate(pool.scan(buckets, labels, cutoff, scan.bound)):
        _count_bucket(scan, result, lambda _: None)  # the sample's events: in held
        if result.sample is not None:  # only the first buckets have any: hashes ≤ bound
            scan.held.append(result.sample)
        if fit is not None and not started and _sample_known(scan, buckets.count, b):
            scan.fitting, started = _start_fit(scan, buckets, pool, fit), True
    return scan


def _sample_known(scan: Scan, count: int, b: int) -> bool:
    """Whether buckets 0 … ``b`` read settle the sample: the pool is full and its highest
    hash is in one of them (a later bucket's leads all hash higher), or none is left."""
    if b == count - 1:
        return True
    if len(scan.pool) < FIT_SAMPLE:
        return False
    return int(hash_buckets(scan.pool.hashes[-1:], count)[0]) <= b


def _start_fit(scan: Scan, buckets: Buckets, pool: BucketPool, fit: FitRequest) -> Future | None:
    """The fit, given to a worker, on the events the scan holds when they are the whole
    sample's, else on the sample's events read again; ``None`` when no lead is a
    candidate (:func:`fitted_builder` says so, after the outcomes' own errors)."""
    if not len(scan.pool):
        _drop(scan)
        return None
    held = _held_sample(scan)
    paths = held or pool.sample_events(buckets, scan.pool.ids)
    return pool.fit(paths, scan.pool.ids, fit.labels, fit.cutoff, fit.settings)


def _held_sample(scan: Scan) -> list[str]:
    """The files the workers handed back in the scan when they hold the whole fit sample
    (its highest hash within their bound), else none (they are removed). The pool is not
    empty (:func:`_start_fit`)."""
    if scan.bound is None or scan.pool.hashes[-1] > scan.bound:
        _drop(scan)
        return []
    held, scan.held = scan.held, []
    return held


def _drop(scan: Scan) -> None:
    for path in scan.held:
        Path(path).unlink(missing_ok=True)
    scan.held = []


def _count_bucket(
    scan: Scan, read: ScanResult, part_of: Callable[[np.uint64], pd.DataFrame | None]
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
    scan: Scan,
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


def check_labels(
    labels: LabelBuckets, scan: Scan, cutoff: pd.Timestamp | None, notes: list[str]
) -> None:
    """The notes (and the error) :func:`~leadscore.features.table.build_lead_table` gives
    about the outcomes."""
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


def fitted_builder(scan: Scan, fit: FitRequest, pool: BucketPool | None) -> LeadFeatureBuilder:
    """The builder fitted on the sample's events: by the worker the scan gave the fit to,
    else here."""
    if pool is not None:
        if scan.fitting is None:
            raise DataError(NOTHING_TO_FIT)
        return pool.result(scan.fitting, "fitting the features")
    if not scan.sample:
        raise DataError(NOTHING_TO_FIT)
    parts, scan.sample = scan.sample, []
    return fit_on_sample(parts, pd.Index(scan.pool.ids), fit.labels, fit.cutoff, fit.settings)
