"""What the streamed features do with one bucket of leads, in the job's process or in a
worker (:mod:`~leadscore.features.stream_tasks`): the same functions either way, so the
rows do not depend on where a bucket was built.

* :func:`read_bucket`: the first pass: the bucket read clean (and kept so), with its
  counts, its latest usable event and its candidates for the fit sample;
* :func:`sample_part`: the bucket's events of the leads that may be in the fit sample;
* :func:`fit_on_sample`: the builder fitted on the sample's events;
* :func:`bucket_rows`: the second pass: the bucket's rows of the lead table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from leadscore.data.events import concat_events, events_frame
from leadscore.errors import DataError
from leadscore.features.build import (
    FIT_COLUMNS,
    NOTHING_TO_FIT,
    FeatureSettings,
    LeadFeatureBuilder,
    lead_hashes,
)
from leadscore.features.labels import cutoffs_for
from leadscore.features.partition import Buckets, LabelBuckets, compacted, lead_buckets
from leadscore.features.vector import text_positions

ID, TARGET = "lead_id", "converted"


@dataclass
class BucketRead:
    """What the first read of one bucket learns (:func:`read_bucket`)."""

    events: pa.Table  # clean, one dictionary per column
    repeated: int
    leads: int = 0
    labelled: int = 0
    latest: int | None = None
    present: np.ndarray | None = None  # per lead code: a candidate for the fit sample
    _hashes: np.ndarray | None = field(default=None, init=False, repr=False)

    def candidates(self) -> pd.Index:
        """The lead ids that are candidates for the fit sample."""
        if self.present is None:
            return pd.Index([], dtype=object)
        names = _lead_names(self.events)
        return pd.Index(names[self.present], dtype=object)

    def hashes(self) -> np.ndarray:
        """:func:`lead_hashes` of each lead code's id (hashed once: the sample's events
        and the candidates handed back both need them)."""
        if self._hashes is None:
            self._hashes = lead_hashes(_lead_names(self.events))
        return self._hashes


def read_bucket(
    buckets: Buckets, labels: LabelBuckets | None, cutoff: pd.Timestamp | None, b: int
) -> BucketRead:
    """A bucket read clean (and kept so, for :meth:`Buckets.settled`), with its counts, its
    latest usable event and its candidates for the fit sample.

    Parameters
    ----------
    buckets:
        The events' buckets.
    labels:
        The outcomes' buckets (training), else ``None``.
    cutoff:
        No event at or after this time is usable.
    b:
        The bucket.

    Example
    -------
    >>> from pathlib import Path
    >>> from leadscore.demo import write_demo_events
    >>> from leadscore.features.partition import partition_events
    >>> demo = write_demo_events(Path("demo"), leads=40, new_leads=5)
    >>> buckets = partition_events(demo["events"], Path("buckets"), count=2)
    >>> reads = [read_bucket(buckets, None, None, b) for b in range(2)]
    >>> sum(read.leads for read in reads), sum(len(read.candidates()) for read in reads)
    (40, 40)
    """
    events, repeated = buckets.clean(b, keep=True)
    read = BucketRead(events, repeated)
    if not events.num_rows:
        return read
    lead_codes = _lead_codes(events)
    names = _lead_names(events)
    present = np.bincount(lead_codes, minlength=len(names)) > 0
    read.leads = int(present.sum())
    times = events["timestamp"].to_numpy().view(np.int64)
    if labels is not None:
        bucket_labels = labels.read(b)
        limits = cutoffs_for(bucket_labels, cutoff)
        at = pd.Index(limits.index.astype(object)).get_indexer(names)
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


def _ns(limits: pd.Series) -> np.ndarray:
    """Cutoffs as int64 ns; none → no limit."""
    values = pd.to_datetime(limits)
    out = values.to_numpy("datetime64[ns]").view(np.int64).copy()
    out[values.isna().to_numpy()] = np.iinfo(np.int64).max
    return out


def _lead_codes(events: pa.Table) -> np.ndarray:
    return events["lead_id"].chunk(0).indices.to_numpy()


def _lead_names(events: pa.Table) -> np.ndarray:
    """The lead ids of the table's dictionary, as text objects."""
    return events["lead_id"].chunk(0).dictionary.to_numpy(zero_copy_only=False)


def sample_table(read: BucketRead, highest: np.uint64) -> pa.Table | None:
    """The clean events of the read's candidates for the fit sample whose
    :func:`lead_hashes` are at most ``highest`` (a lead above it can no longer be among
    the sample's lowest hashes), in the columns the fit reads
    (:data:`~leadscore.features.build.FIT_COLUMNS`), each dictionary cut to the values
    they use; ``None`` when there are none.

    Parameters
    ----------
    read:
        A bucket's first read (:func:`read_bucket`).
    highest:
        The highest hash kept.

    Example
    -------
    >>> events = pa.table({"lead_id": pa.array(["a", "b", "a"]).dictionary_encode()})
    >>> read = BucketRead(events, 0, present=np.array([True, False]))  # b: no outcome
    >>> sample_table(read, np.uint64(2**64 - 1))["lead_id"].to_pylist()
    ['a', 'a']
    >>> sample_table(read, lead_hashes(pd.Index(["a"]))[0] - np.uint64(1)) is None
    True
    """
    if read.present is None:
        return None
    within = read.present & (read.hashes() <= highest)
    if not within.any():
        return None
    columns = [c for c in FIT_COLUMNS if c in read.events.column_names]
    return compacted(read.events.select(columns).filter(pa.array(within[_lead_codes(read.events)])))


def sample_part(read: BucketRead, highest: np.uint64 | None) -> pd.DataFrame | None:
    """:func:`sample_table` (every candidate when ``highest`` is ``None``) as a frame, with
    each event's lead hash in ``_hash``.

    Parameters
    ----------
    read, highest:
        As for :func:`sample_table`.

    Example
    -------
    >>> events = pa.table({"lead_id": pa.array(["a", "b", "a"]).dictionary_encode()})
    >>> part = sample_part(BucketRead(events, 0, present=np.ones(2, bool)), None)
    >>> part["_hash"].tolist() == lead_hashes(pd.Index(["a", "b", "a"])).tolist()
    True
    """
    if highest is None:  # the sample is not full yet: any lead may join it
        highest = np.uint64(np.iinfo(np.uint64).max)
    kept = sample_table(read, highest)
    if kept is None:
        return None
    hashes = lead_hashes(_lead_names(kept))[_lead_codes(kept)]
    frame = events_frame(kept)  # gives kept's memory to the frame: kept is not read again
    frame["_hash"] = hashes
    return frame


def rows_kept(events: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """The rows kept, with only the categories they use: a held part would otherwise keep
    its whole bucket's distinct URLs, IPs and lead ids (a gigabyte over 50 buckets).

    Parameters
    ----------
    events:
        Events, text columns categorical.
    mask:
        The rows to keep.

    Example
    -------
    >>> events = pd.DataFrame({"lead_id": pd.Categorical(["a", "b", "a"]), "n": [1, 2, 3]})
    >>> rows_kept(events, np.array([True, False, True]))["lead_id"].cat.categories.tolist()
    ['a']
    """
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


def fit_on_sample(
    parts: list[pd.DataFrame],
    chosen: pd.Index,
    labels: LabelBuckets | None,
    cutoff: pd.Timestamp | None,
    settings: FeatureSettings | None,
) -> LeadFeatureBuilder:
    """A builder fitted on the events of the ``chosen`` leads (the fit sample) in
    ``parts``, in lead order by bucket, with their outcomes' cutoffs when training. The
    parts are taken from the list (each freed once its sample rows are taken).

    Parameters
    ----------
    parts:
        Clean events, holding at least the chosen leads' (other leads' are left out).
    chosen:
        The fit sample's lead ids.
    labels:
        The outcomes' buckets (training), else ``None``.
    cutoff:
        No event at or after this time is used.
    settings:
        The builder's settings.

    Example
    -------
    >>> from pathlib import Path
    >>> from leadscore.data.events import load_events
    >>> from leadscore.demo import write_demo_events
    >>> demo = write_demo_events(Path("demo"), leads=40, new_leads=5)
    >>> events = load_events(demo["events"]).events
    >>> chosen = pd.Index(events["lead_id"].unique()[:30].astype(str))
    >>> builder = fit_on_sample([events], chosen, None, None, None)
    >>> len(builder.steps_) > 0
    True
    """
    if not parts:
        raise DataError(NOTHING_TO_FIT)
    kept = []
    while parts:  # each part freed as soon as its sample rows are taken
        part = parts.pop(0).drop(columns="_hash", errors="ignore")
        leads = part["lead_id"].cat  # chosen or not is asked of each lead once, not each row
        wanted = text_positions(leads.categories, chosen) >= 0
        mask = np.append(wanted, False)[leads.codes.to_numpy()]
        kept.append(part if mask.all() else part[mask])
        del part
    frame = concat_events(kept)
    del kept
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


def bucket_rows(
    buckets: Buckets,
    labels: LabelBuckets | None,
    builder: LeadFeatureBuilder,
    cutoff: pd.Timestamp | None,
    when: pd.Timestamp | None,
    b: int,
) -> tuple[pd.DataFrame, bool] | None:
    """A bucket's rows of the lead table (exactly :meth:`LeadFeatureBuilder.transform`,
    with the leads' outcomes when training) and whether they have the feature columns;
    ``None`` when the bucket has no row.

    Parameters
    ----------
    buckets, labels, cutoff:
        As for :func:`read_bucket`.
    builder:
        The fitted feature builder.
    when:
        The scoring time of the recency features (scoring only).
    b:
        The bucket.

    Example
    -------
    >>> from pathlib import Path
    >>> from leadscore.data.events import load_events
    >>> from leadscore.demo import write_demo_events
    >>> from leadscore.features.partition import partition_events
    >>> demo = write_demo_events(Path("demo"), leads=40, new_leads=5)
    >>> buckets = partition_events(demo["events"], Path("buckets"), count=2)
    >>> builder = LeadFeatureBuilder().fit(load_events(demo["events"]).events)
    >>> parts = [bucket_rows(buckets, None, builder, None, None, b) for b in range(2)]
    >>> sum(len(rows) for rows, complete in parts), all(complete for _, complete in parts)
    (40, True)
    """
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
