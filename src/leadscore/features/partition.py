"""Events on disk in buckets of leads: what lets the features stream over any input.

:func:`partition_events` reads every input once, a batch at a time (a Parquet row group,
or one JSON lines / CSV file), normalises it exactly as
:func:`~leadscore.data.events.load_events` does and appends each row to the bucket of its
lead (a stable hash of the lead id, :func:`~leadscore.features.build.lead_hashes`), in
the order read. A lead's events all land in one bucket, however they are spread over
the input's files and row groups, so a bucket holds whole leads and is small enough to
build features from in memory.

:meth:`Buckets.clean` then reads a bucket back as the feature builder reads events:
duplicates removed (a lead at a time, as ``load_events`` decides them) and in time order.

:func:`split_outcomes` does the same for the outcomes (read a block of rows at a time), so
a bucket's events and its leads' outcomes are read together (:class:`LabelBuckets`).

The buckets are Arrow IPC streams (text dictionary-encoded, uncompressed, each piece's
dictionaries cut to what it uses). Normalising and partitioning this way took less CPU
and far less memory than DuckDB's ``COPY … PARTITION_BY`` or Polars' partitioned sink did
on the raw file alone (measured in ``docs/events.md``); the buckets only live in a
temporary folder during the job.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from leadscore.data.columns import normalise_name
from leadscore.data.event_arrow import EVENT_ARROW_SCHEMA, to_event_table
from leadscore.data.events import (
    BATCH_ROWS,
    duplicate_events,
    event_parts,
    events_frame,
    time_order,
)
from leadscore.data.sources import TableLike, read_table, source_kind
from leadscore.data.table_files import CSV_SUFFIXES, PARQUET_SUFFIXES, base_suffix, sniff_delimiter
from leadscore.errors import SchemaError
from leadscore.features.build import lead_hashes
from leadscore.features.labels import ID_NAMES, cutoffs_for, read_outcomes


def lead_buckets(ids: object, count: int) -> np.ndarray:
    """The bucket (0 … ``count`` - 1) of each lead id."""
    return hash_buckets(lead_hashes(np.asarray(ids, dtype=object)), count)


def hash_buckets(hashes: np.ndarray, count: int) -> np.ndarray:
    """The bucket of each lead hash: the one rule that places a lead.

    Buckets are ranges of hashes, in order (a higher hash is never in a lower bucket), so
    the leads of the fit sample, the lowest hashes, are all in the first buckets: once
    those are read, the sample is known and the fit can start while the rest are read.

    Example
    -------
    >>> hash_buckets(np.array([0, 2**63, 2**64 - 1], dtype=np.uint64), 4).tolist()
    [0, 2, 3]
    """
    # the top 32 bits times the count fits in 64 bits: floor(hash * count / 2**64)
    top = np.asarray(hashes, dtype=np.uint64) >> np.uint64(32)
    return ((top * np.uint64(count)) >> np.uint64(32)).astype(np.int64)


@dataclass
class Buckets:
    """The events of :func:`partition_events`, one file per bucket of leads."""

    folder: Path
    count: int
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    quarantine: list[pd.DataFrame] = field(default_factory=list)
    #: usable events read, duplicates included
    events: int = 0
    #: the distinct event names seen (to check a --conversion-event exists)
    event_names: set[str] = field(default_factory=set)
    #: the lowest :func:`~leadscore.features.build.lead_hashes` of the leads seen, sorted
    #: (as many as ``partition_events`` was asked to keep)
    lowest_hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))

    def path(self, bucket: int) -> Path:
        return self.folder / f"bucket-{bucket:05d}.arrows"

    def read(self, bucket: int) -> pd.DataFrame:
        """The bucket's events as read (duplicates kept, in input order)."""
        return events_frame(self._table(bucket))

    def _table(self, bucket: int) -> pa.Table:
        path = self.path(bucket)
        if not path.exists():
            return EVENT_ARROW_SCHEMA.empty_table()
        with pa.OSFile(str(path)) as source:
            table = pa.ipc.open_stream(source).read_all()
        # one dictionary per column, so pandas gets one set of categories
        return table.combine_chunks()

    def clean(self, bucket: int, keep: bool = False) -> tuple[pa.Table, int]:
        """The bucket's events as ``load_events`` would keep them (duplicates removed, in
        time order), as Arrow (:func:`~leadscore.data.events.events_frame` makes them the
        frame), and how many duplicates were removed. Nothing here goes through pandas:
        the job converts a bucket once, to build its rows.

        With ``keep``, the clean events replace the bucket on disk (an Arrow IPC file, one
        dictionary per column): reading them again (:meth:`settled`) is then a read and a
        conversion, not another merge of dictionaries, de-duplication and sort. A bucket
        already kept clean is read as it was kept (its duplicates were counted then): the
        events it held are never lost to a second call."""
        if not self.path(bucket).exists() and self._clean_path(bucket).exists():
            return self._kept(bucket), 0
        table = self._table(bucket)
        repeated = duplicate_events(table)
        rows = np.flatnonzero(~repeated)  # the clean rows of the table, in time order
        order = time_order(table["timestamp"].to_numpy()[rows]) if len(rows) else None
        if order is not None:
            rows = rows[order]
        if order is not None or len(rows) < table.num_rows:
            table = table.take(pa.array(rows))
        if keep:
            with pa.ipc.new_file(str(self._clean_path(bucket)), EVENT_ARROW_SCHEMA) as writer:
                writer.write_table(table)
            self.path(bucket).unlink(missing_ok=True)
        return table, int(repeated.sum())

    def settled(self, bucket: int) -> pd.DataFrame:
        """The bucket's clean events: kept by ``clean(bucket, keep=True)``, else cleaned."""
        if not self._clean_path(bucket).exists():
            return events_frame(self.clean(bucket)[0])
        return events_frame(self._kept(bucket))

    def _kept(self, bucket: int) -> pa.Table:
        """The clean events ``clean(bucket, keep=True)`` kept."""
        with pa.OSFile(str(self._clean_path(bucket))) as source:
            return pa.ipc.open_file(source).read_all()

    def settled_leads(
        self, bucket: int, leads: np.ndarray, columns: Sequence[str] | None = None
    ) -> pa.Table:
        """The bucket's clean events of ``leads`` alone (:meth:`settled`'s rows, as Arrow;
        only ``columns`` when given), each dictionary cut to the values these rows use:
        tables of several buckets then concatenate to what
        :func:`~leadscore.data.events.concat_events` gives of their frames, without the
        whole buckets' distinct values."""
        if not self._clean_path(bucket).exists():
            self.clean(bucket, keep=True)
        table = self._kept(bucket)
        if columns is not None:
            table = table.select(list(columns))
        ids = table["lead_id"].combine_chunks()
        wanted = pc.is_in(ids.dictionary, value_set=pa.array(leads, pa.string()))
        table = table.filter(pc.take(wanted, ids.indices).fill_null(False))
        return compacted(table)

    def _clean_path(self, bucket: int) -> Path:
        return self.folder / f"clean-{bucket:05d}.arrow"


def partition_events(
    paths: str | Path | Iterable[str | Path],
    folder: Path,
    count: int,
    rows: int = BATCH_ROWS,
    lowest: int = 0,
) -> Buckets:
    """Normalise every input and write each event to its lead's bucket under ``folder``.

    Parameters
    ----------
    paths:
        Event files, folders, globs or sources, as for
        :func:`~leadscore.data.events.load_events`.
    folder:
        Where the bucket files go (created; existing bucket files are replaced).
    count:
        Number of buckets.
    rows:
        Rows read at a time: with the open buckets, what bounds this pass's memory (a
        Parquet input is read in batches of half as many; :data:`SPLITTERS` of them are
        split by bucket while the next is read).
    lowest:
        How many of the lowest lead hashes to keep (:attr:`Buckets.lowest_hashes`: the
        fit sample's bound, known before the buckets are read).

    Example
    -------
    >>> from leadscore.demo import write_demo_events
    >>> demo = write_demo_events(Path("demo"), leads=200, new_leads=50)
    >>> buckets = partition_events(demo["events"], Path("buckets"), count=4)
    >>> sum(len(buckets.read(b)) for b in range(4)) == buckets.events
    True
    """
    folder.mkdir(parents=True, exist_ok=True)
    buckets = Buckets(folder, count)
    writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
    # Batches are split by bucket in two threads (Arrow's and numpy's work, much of it
    # without the GIL) while the next is read and normalised; their pieces are appended
    # here, in the batches' order.
    splitter = ThreadPoolExecutor(SPLITTERS, thread_name_prefix="leadscore-partition")
    pending: deque[Future[_Split]] = deque()
    try:
        for name, part, rejected in event_parts(paths, buckets.notes, max(1, rows // 2)):
            if name not in buckets.files:
                buckets.files.append(name)
            if len(rejected):
                buckets.quarantine.append(rejected)
            table = to_event_table(part) if isinstance(part, pd.DataFrame) else part
            del part
            if table.num_rows:
                pending.append(splitter.submit(_split, table, count))
            del table
            while len(pending) >= SPLITTERS:  # the next batch is read once the oldest is in
                _append(pending.popleft().result(), buckets, writers, lowest)
        while pending:
            _append(pending.popleft().result(), buckets, writers, lowest)
    finally:
        for future in pending:
            future.cancel()
        splitter.shutdown(wait=True)
        for writer in writers.values():
            writer.close()
    return buckets


#: threads splitting batches by bucket while the next batch is read
SPLITTERS = 2


@dataclass
class _Split:
    """A normalised batch split by bucket (:func:`_split`)."""

    rows: int
    hashes: np.ndarray  # of the batch's distinct lead ids
    event_names: list[str]
    pieces: list[tuple[int, pa.Table]]  # (bucket, its rows, dictionaries cut to them)


def _split(table: pa.Table, count: int) -> _Split:
    """Split a normalised batch by bucket, rows in input order within each."""
    leads = table["lead_id"].combine_chunks()
    names = [str(v) for v in table["event"].combine_chunks().dictionary.to_pylist()]
    hashes = lead_hashes(leads.dictionary.to_numpy(zero_copy_only=False))
    row_bucket = hash_buckets(hashes, count)[leads.indices.to_numpy(zero_copy_only=False)]
    # stable, so rows keep their input order within a bucket; 16-bit keys sort by radix
    small = row_bucket.astype(np.int16) if count <= np.iinfo(np.int16).max else row_bucket
    order = np.argsort(small, kind="stable")
    sizes = np.bincount(row_bucket, minlength=count)
    ordered = table.take(pa.array(order))
    del table, order, row_bucket
    pieces, start = [], 0
    for bucket in np.flatnonzero(sizes):
        pieces.append((int(bucket), compacted(ordered.slice(start, sizes[bucket]))))
        start += sizes[bucket]
    return _Split(ordered.num_rows, hashes, names, pieces)


def _append(
    split: _Split,
    buckets: Buckets,
    writers: dict[int, pa.ipc.RecordBatchStreamWriter],
    lowest: int,
) -> None:
    """Append a split batch's pieces to their buckets."""
    buckets.event_names.update(split.event_names)
    if lowest:
        buckets.lowest_hashes = _lowest_of(buckets.lowest_hashes, split.hashes, lowest)
    for bucket, piece in split.pieces:
        writer = writers.get(bucket)
        if writer is None:
            writer = writers[bucket] = pa.ipc.new_stream(
                str(buckets.path(bucket)), EVENT_ARROW_SCHEMA
            )
        writer.write_table(piece)
    buckets.events += split.rows


def _lowest_of(kept: np.ndarray, hashes: np.ndarray, most: int) -> np.ndarray:
    """The ``most`` lowest distinct values of ``kept`` (sorted) and ``hashes``, sorted."""
    if len(kept) >= most:
        hashes = hashes[hashes < kept[-1]]  # a lead above the bound can never come back
    if len(hashes) > most:
        hashes = np.partition(hashes, most - 1)[:most]
    hashes = np.unique(hashes)
    # merged into the sorted ones where they belong (not a sort of all of them again:
    # after the first batches only a few new hashes fall below the bound)
    at = np.searchsorted(kept, hashes)
    seen = at < len(kept)
    seen[seen] = kept[at[seen]] == hashes[seen]
    return np.insert(kept, at[~seen], hashes[~seen])[:most]


def compacted(piece: pa.Table) -> pa.Table:
    """The piece with each dictionary cut to the values its rows use, in their order: a
    batch's dictionaries cover every bucket, and would otherwise be written to each of
    them (and a frame of a few leads would carry the categories of all).

    Example
    -------
    >>> values = pa.array(["a", "b", "c", "b"]).dictionary_encode()
    >>> piece = pa.table({"page": values}).slice(1, 2)
    >>> compacted(piece)["page"].chunk(0).dictionary.to_pylist()
    ['b', 'c']
    """
    columns = []
    for column in piece.itercolumns():
        values = column.combine_chunks()
        if not pa.types.is_dictionary(column.type) or not len(values.dictionary):
            columns.append(values)
            continue
        indices = values.indices.fill_null(0).to_numpy()
        valid = ~values.indices.is_null().to_numpy(zero_copy_only=False)
        used = np.bincount(indices[valid], minlength=len(values.dictionary)) > 0
        remap = np.cumsum(used) - 1
        codes = pa.array(remap[indices].astype(np.int32), mask=~valid)
        dictionary = values.dictionary.filter(pa.array(used))
        columns.append(pa.DictionaryArray.from_arrays(codes, dictionary))
    return pa.Table.from_arrays(columns, schema=piece.schema)


# ----------------------------------------------------------------------------- outcomes

ID, TARGET = "lead_id", "converted"


@dataclass
class LabelBuckets:
    """Outcomes split by bucket (:func:`split_outcomes`)."""

    folder: Path
    count: int
    rows: int = 0
    cutoffs: set[int] = field(default_factory=set)  # distinct cutoffs (two are enough)
    timed: bool = False

    @property
    def cutoffs_vary(self) -> bool:
        return len(self.cutoffs) > 1

    def read(self, bucket: int) -> pd.DataFrame:
        """The bucket's outcomes; a lead listed twice is an error."""
        labels = self._frame(self._table(bucket))
        repeated = labels[ID].duplicated()
        if repeated.any():  # within a block read_outcomes says so; across blocks, here
            dupes = labels.loc[repeated, ID].head(5).tolist()
            raise SchemaError(f"outcomes list some leads more than once, e.g. {dupes}")
        return labels

    def read_leads(self, bucket: int, leads: pa.Array) -> pd.DataFrame:
        """The bucket's outcomes of ``leads`` alone (picked in Arrow: the fit sample's
        outcomes without a frame of every outcome), in :meth:`read`'s order."""
        table = self._table(bucket)
        return self._frame(table.filter(pc.is_in(table[ID], value_set=leads)))

    def _table(self, bucket: int) -> pa.Table:
        path = self.folder / f"labels-{bucket:05d}.arrows"
        if not path.exists():
            return _LABEL_SCHEMA.empty_table()
        with pa.OSFile(str(path)) as source:
            return pa.ipc.open_stream(source).read_all()

    @staticmethod
    def _frame(table: pa.Table) -> pd.DataFrame:
        labels = table.to_pandas()
        labels[ID] = labels[ID].astype("string")
        return labels


#: outcome rows read at a time from a CSV or Parquet file
OUTCOME_ROWS = 500_000


def _outcome_blocks(outcomes: TableLike, block_rows: int) -> Iterator[pd.DataFrame]:
    """The outcomes ``block_rows`` rows at a time when they are a local CSV or Parquet file
    (read as ``read_table`` reads them, the lead id as text), else whole."""
    path = Path(outcomes) if isinstance(outcomes, (str, Path)) else None
    if path is None or source_kind(str(path)) != "local" or not path.is_file():
        yield read_table(outcomes)
        return
    suffix = base_suffix(path)
    if suffix in PARQUET_SUFFIXES:
        for batch in pq.ParquetFile(path, pre_buffer=False).iter_batches(block_rows):
            yield batch.to_pandas()
        return
    if suffix not in CSV_SUFFIXES:
        yield read_table(outcomes)
        return
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    delimiter = sniff_delimiter(header)
    names = next(csv.reader([header], delimiter=delimiter, skipinitialspace=True))
    by_name = {normalise_name(c): c for c in names}
    lead = next((by_name[n] for n in ID_NAMES if n in by_name), None)
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            yield from pd.read_csv(
                path, sep=delimiter, encoding=encoding, skipinitialspace=True,
                chunksize=block_rows, dtype={lead: str} if lead else None,
            )  # fmt: skip
            return
        except UnicodeDecodeError:
            continue


def split_outcomes(
    outcomes: TableLike,
    folder: Path,
    count: int,
    cutoff: pd.Timestamp | None,
    block_rows: int | None = None,
) -> LabelBuckets:
    """Outcomes read a block at a time (``block_rows`` rows, default
    :data:`OUTCOME_ROWS`), each lead's row written to its bucket."""
    labels = LabelBuckets(folder, count)
    writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
    try:
        for block in _outcome_blocks(outcomes, block_rows or OUTCOME_ROWS):
            rows = read_outcomes(block)
            labels.rows += len(rows)
            labels.timed |= bool(rows["outcome_at"].notna().any())
            limits = pd.to_datetime(cutoffs_for(rows, cutoff)).dropna().unique()
            labels.cutoffs.update(int(t.value) for t in pd.DatetimeIndex(limits[:2]))
            table = pa.Table.from_pandas(
                rows.astype({ID: object, "converted": np.int64}), schema=_LABEL_SCHEMA,
                preserve_index=False,
            )  # fmt: skip
            bucket = lead_buckets(rows[ID].to_numpy(dtype=object), count)
            for b in np.unique(bucket):
                writer = writers.get(b)
                if writer is None:
                    target = str(folder / f"labels-{b:05d}.arrows")
                    writer = writers[b] = pa.ipc.new_stream(target, _LABEL_SCHEMA)
                writer.write_table(table.filter(pa.array(bucket == b)))
    finally:
        for writer in writers.values():
            writer.close()
    return labels


_LABEL_SCHEMA = pa.schema(
    [(ID, pa.string()), ("converted", pa.int64()), ("outcome_at", pa.timestamp("ns"))]
)
