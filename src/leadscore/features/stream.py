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
Events defined outcomes (``--conversion-event``) and CRM joins (``--leads``) are built in
memory (:func:`~leadscore.features.table.build_lead_table`).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
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
    lead_hashes,
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

ID, TARGET = "lead_id", "converted"
#: events per bucket, about: what bounds the memory of a streamed build
CHUNK_EVENTS = 1_000_000
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
    events = estimate_events(paths)
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
    pool: pd.DataFrame = field(default_factory=lambda: _pool(pd.Index([])))


def _pool(ids: pd.Index) -> pd.DataFrame:
    return pd.DataFrame({"id": np.asarray(ids, dtype=object), "hash": lead_hashes(ids)})


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
        About how many events a bucket holds: memory grows with it, time hardly.
    workdir:
        Where the buckets go while the job runs (default: the system's temporary folder).
    batch_rows:
        Rows of a Parquet input normalised at a time.

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
    cutoff_ts = pd.Timestamp(cutoff) if cutoff is not None else None
    count = bucket_count(paths, chunk_events)
    with tempfile.TemporaryDirectory(prefix="leadscore-buckets-", dir=workdir) as tmp:
        folder = Path(tmp)
        labels = None
        if outcomes is not None:
            labels = split_outcomes(outcomes, folder, count, cutoff_ts)
        buckets = partition_events(paths, folder, count, batch_rows)
        scan = _scan(buckets, labels, cutoff_ts)
        notes: list[str] = []
        if labels is not None:
            _check_labels(labels, scan, cutoff_ts, notes)
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
        written = _write(buckets, labels, builder, cutoff_ts, when, out)
    quarantine = pd.concat(buckets.quarantine, ignore_index=True) if buckets.quarantine else None
    load = EventLoad(
        pd.DataFrame(),
        quarantine if quarantine is not None else quarantine_frame([]),
        scan.duplicates,
        buckets.files,
        buckets.notes,
        counted=(scan.events, scan.leads),
    )
    rows, columns, converted = written
    return StreamedTable(out, rows, columns, converted, builder, load, notes, count)


@dataclass
class _Bucket:
    """What the first read of one bucket learns (:func:`_read_bucket`)."""

    events: pd.DataFrame
    repeated: int
    leads: int = 0
    labelled: int = 0
    latest: int | None = None
    present: np.ndarray | None = None  # per lead code: a candidate for the fit sample


def _read_bucket(
    buckets: Buckets, labels: LabelBuckets | None, cutoff: pd.Timestamp | None, b: int
) -> _Bucket:
    """A bucket read clean (and kept so), with its counts and latest usable event."""
    events, repeated = buckets.clean(b, keep=True)
    read = _Bucket(events, repeated)
    if not len(events):
        return read
    lead_codes = events["lead_id"].cat.codes.to_numpy()
    names = events["lead_id"].cat.categories
    present = np.bincount(lead_codes, minlength=len(names)) > 0
    read.leads = int(present.sum())
    times = events["timestamp"].to_numpy("datetime64[ns]").view(np.int64)
    if labels is not None:
        bucket_labels = labels.read(b)
        limits = cutoffs_for(bucket_labels, cutoff)
        at = pd.Index(limits.index.astype(object)).get_indexer(names.astype(object))
        labelled = at >= 0
        present &= labelled
        read.labelled = int(present.sum())
        lead_limit = np.where(labelled, _ns(limits)[np.maximum(at, 0)], np.iinfo(np.int64).min)
        usable = times < lead_limit[lead_codes]
    else:
        usable = times < cutoff.value if cutoff is not None else np.ones(len(times), bool)
    if usable.any():
        read.latest = int(times[usable].max())
    read.present = present
    return read


def _scan(buckets: Buckets, labels: LabelBuckets | None, cutoff: pd.Timestamp | None) -> _Scan:
    """Read each bucket clean once: counts, the latest usable event and the fit sample."""
    scan = _Scan()
    for read in (_read_bucket(buckets, labels, cutoff, b) for b in range(buckets.count)):
        scan.duplicates += read.repeated
        scan.events += len(read.events)
        if read.present is None:
            continue
        scan.leads += read.leads
        scan.labelled_with_events += read.labelled
        if read.latest is not None:
            scan.latest = read.latest if scan.latest is None else max(scan.latest, read.latest)
        lead_ids = read.events["lead_id"].cat
        _keep_sample(
            scan, read.events, lead_ids.categories[read.present], lead_ids.codes.to_numpy()
        )
    return scan


def _ns(limits: pd.Series) -> np.ndarray:
    """Cutoffs as int64 ns; none → no limit."""
    values = pd.to_datetime(limits)
    out = values.to_numpy("datetime64[ns]").view(np.int64).copy()
    out[values.isna().to_numpy()] = np.iinfo(np.int64).max
    return out


def _lowest(pool: pd.DataFrame, most: int) -> pd.DataFrame:
    """The ``most`` rows of ``pool`` with the lowest hashes, by hash then id."""
    hashes = pool["hash"].to_numpy()
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    if len(ordered) > 1 and bool((ordered[1:] == ordered[:-1]).any()):
        # two ids with one hash: the id decides (comparing text costs 6x a numeric sort)
        return pool.sort_values(["hash", "id"], kind="stable").head(most)
    return pool.iloc[order[:most]]


def _keep_sample(scan: _Scan, events: pd.DataFrame, ids: pd.Index, lead_codes: np.ndarray) -> None:
    """Keep the events of the leads that may still be in the fit sample: the
    :data:`FIT_SAMPLE` lowest hashes so far (the sample is the lowest over all buckets)."""
    pool = pd.concat([scan.pool, _pool(ids)], ignore_index=True)
    if len(pool) > FIT_SAMPLE:
        hashes = pool["hash"].to_numpy()
        lowest = np.argpartition(hashes, FIT_SAMPLE)[: FIT_SAMPLE + 1]
        pool = pool.iloc[lowest]  # the lowest, and one more to see a tie at the boundary
    scan.pool = _lowest(pool, FIT_SAMPLE)
    if not len(scan.pool):
        return
    # hashes above the pool's highest can never come back: compare numbers, not ids
    highest = scan.pool["hash"].iloc[-1]
    names = events["lead_id"].cat.categories
    within = np.append(lead_hashes(names) <= highest, False)[lead_codes]
    scan.sample = [_prune(part, part["_hash"].to_numpy() <= highest) for part in scan.sample]
    scan.sample = [part for part in scan.sample if len(part)]
    if within.any():
        kept = _rows(events, within)
        leads = kept["lead_id"].cat
        kept["_hash"] = lead_hashes(leads.categories)[leads.codes.to_numpy()]
        scan.sample.append(kept)


def _prune(part: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """A held part without the leads that left the sample, once they are a quarter of it:
    pruning every part after every bucket would cost time quadratic in the buckets."""
    return _rows(part, mask) if mask.sum() < 0.75 * len(mask) else part


def _rows(events: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """The rows kept, with only the categories they use: a held part would otherwise keep
    its whole bucket's distinct URLs, IPs and lead ids (a gigabyte over 50 buckets)."""
    if mask.all():
        return events
    kept = events[mask].reset_index(drop=True)
    for column in kept.columns:
        if isinstance(kept[column].dtype, pd.CategoricalDtype):
            kept[column] = used_categories(kept[column])
    return kept


def used_categories(values: pd.Series) -> pd.Series:
    """``values.cat.remove_unused_categories()`` (the same categories, in the same order),
    by counting codes instead of sorting them: a third of the scan's CPU went to that sort.

    Parameters
    ----------
    values:
        A categorical series.

    Example
    -------
    >>> values = pd.Series(pd.Categorical(["b", None, "d"], ["a", "b", "c", "d"]))
    >>> used_categories(values).cat.categories.tolist()
    ['b', 'd']
    """
    codes = values.cat.codes.to_numpy()
    categories = values.cat.categories
    valid = codes >= 0
    used = np.bincount(codes[valid], minlength=len(categories)) > 0
    if used.all():
        return values
    remap = np.cumsum(used) - 1
    kept = pd.Categorical.from_codes(
        np.where(valid, remap[np.maximum(codes, 0)], -1),
        dtype=pd.CategoricalDtype(categories[used], ordered=values.cat.ordered),
    )
    return pd.Series(kept, index=values.index, name=values.name)


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
    chosen = pd.Index(scan.pool["id"])
    parts = []
    while scan.sample:  # each held part freed as soon as its sample rows are taken
        part = scan.sample.pop(0)
        parts.append(part[part["lead_id"].isin(chosen)].drop(columns="_hash"))
        del part
    frame = concat_events(parts)
    del parts
    builder = LeadFeatureBuilder(settings)
    if labels is None:
        return builder.fit(frame)
    wanted = pa.array(chosen.to_numpy(), pa.string())
    sample_labels = pd.concat(
        [
            part[pc.is_in(pa.array(part[ID].to_numpy(object), pa.string()), wanted).to_numpy(False)]
            for part in (labels.read(b) for b in np.unique(lead_buckets(chosen, labels.count)))
        ],
        ignore_index=True,
    )
    cutoffs = cutoffs_for(sample_labels, cutoff)
    return builder.fit(
        frame, cutoffs, leads=pd.Index(sample_labels[ID]), as_of_features=not labels.cutoffs_vary
    )


def _write(
    buckets: Buckets,
    labels: LabelBuckets | None,
    builder: LeadFeatureBuilder,
    cutoff: pd.Timestamp | None,
    when: pd.Timestamp | None,
    out: Path,
) -> tuple[int, list[str], int | None]:
    """Transform bucket by bucket and append the rows to ``out``: (rows, columns,
    converted)."""

    def rows(b: int) -> tuple[pd.DataFrame, bool] | None:
        events = buckets.settled(b)
        if labels is None:
            if cutoff is not None:
                events = events[(events["timestamp"] < cutoff).to_numpy()]
            if not len(events):
                return None
            features = builder.transform(events, as_of=when)
            return features, features.shape[1] > 1
        bucket_labels = labels.read(b)
        if not len(bucket_labels):
            return None
        cutoffs = cutoffs_for(bucket_labels, cutoff)
        features = builder.transform(events, cutoffs, as_of=when, leads=pd.Index(bucket_labels[ID]))
        del events
        table = bucket_labels[[ID, TARGET]].merge(features, on=ID, how="left")
        table[TARGET] = table[TARGET].map({1: "yes", 0: "no"})
        table = table[[ID, *[c for c in features.columns if c != ID], TARGET]]
        return table, features.shape[1] > 1

    sink = TableSink(out)
    converted = 0 if labels is not None else None
    try:
        for done in map(rows, range(buckets.count)):
            if done is None:
                continue
            table, complete = done
            if converted is not None:
                converted += int((table[TARGET] == "yes").sum())
            sink.add(table, complete=complete)
        sink.close()
    except BaseException:
        sink.abort()
        raise
    return sink.rows, sink.columns, converted
