"""Lead files read in Arrow batches of a fixed number of leads, never whole.

:func:`lead_batches` reads a Parquet file (``ParquetFile.iter_batches``) or a CSV/TSV file,
gzip-compressed or not (``pyarrow.csv.open_csv``), and yields record batches of
``batch_size`` leads (the last one shorter) with only the columns asked for. It reads them
as :func:`~leadscore.data.sources.read_table` would, so that the scores are the same:

* CSV: the delimiter sniffed from the header line, blanks after a delimiter skipped,
  pandas' words for a missing value (``NA``, ``NULL``, ``n/a`` …), UTF-8 and then Latin-1;
  every column as text, typed later as the model's schema says
  (:func:`~leadscore.scoring.arrow_inputs.read_inputs`);
* Parquet: the file's own types; text columns come as dictionaries (cheap to read, one
  lookup per distinct value), still cleaned as text.

Problems are :class:`~leadscore.errors.DataError` naming the file.

Example
-------
>>> leads.head(5).to_csv("five.csv", sep=";", index=False)
>>> source = LeadFile(Path("five.csv"))
>>> [b.num_rows for b in source.batches(["lead_id", "visits"], batch_size=2)]
[2, 2, 1]
"""

from __future__ import annotations

import csv
import gzip
import queue
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pandas._libs.parsers import STR_NA_VALUES

from leadscore.data.table_files import (
    CSV_SUFFIXES,
    PARQUET_SUFFIXES,
    base_suffix,
    local_files,
    sniff_delimiter,
)
from leadscore.errors import DataError

_T = TypeVar("_T")

#: bytes of CSV text parsed at a time (the reader's blocks are cut into batches of leads)
CSV_BLOCK = 8 << 20
#: what pandas' CSV reader takes for a missing value
CSV_NA_VALUES = frozenset(STR_NA_VALUES)


class LeadFile:
    """One CSV or Parquet file of leads, read in batches.

    Parameters
    ----------
    path:
        A ``.parquet``/``.pq`` file, or a CSV/TSV file (``.csv``, ``.tsv``, ``.txt``, any of
        them ``.gz``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        suffix = base_suffix(path)
        self.parquet = suffix in PARQUET_SUFFIXES
        if not self.parquet and suffix not in CSV_SUFFIXES:
            raise DataError(f"cannot stream {path}: only CSV and Parquet files are read in batches")
        if path.stat().st_size == 0:
            raise DataError(f"file is empty: {path}")
        self.encoding = "utf8"

    @property
    def na_values(self) -> frozenset[str]:
        """Words for a missing value the reader may have left in the text (CSV only)."""
        return frozenset() if self.parquet else CSV_NA_VALUES

    def columns(self) -> list[str]:
        """The file's column names."""
        if self.parquet:
            return list(self._parquet().schema_arrow.names)
        return self._header()[0]

    def text_columns(self) -> set[str]:
        """The columns that hold text in the file (all of them in a CSV)."""
        if not self.parquet:
            return set(self.columns())
        schema = self._parquet().schema_arrow
        return {
            f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
        }

    def rows(self) -> int | None:
        """The number of leads, where the file says it without being read (Parquet)."""
        return self._parquet().metadata.num_rows if self.parquet else None

    def _parquet(self, dictionaries: Sequence[str] = ()) -> pq.ParquetFile:
        try:
            # pre_buffer keeps every row group's bytes it read until the file is closed:
            # memory would grow with the file
            return pq.ParquetFile(
                self.path, read_dictionary=list(dictionaries) or None, pre_buffer=False
            )
        except Exception as exc:  # pyarrow raises many types; all mean "not readable"
            raise DataError(f"cannot read {self.path} as Parquet: {exc}") from None

    def _header(self) -> tuple[list[str], str]:
        """The header's names (blanks after a delimiter skipped, as pandas reads them)
        and the delimiter."""
        for encoding in ("utf-8-sig", "latin-1"):
            try:
                if self.path.suffix.lower() == ".gz":
                    with gzip.open(self.path, "rt", encoding=encoding, newline="") as handle:
                        line = handle.readline()
                else:
                    with self.path.open(encoding=encoding, newline="") as handle:
                        line = handle.readline()
            except UnicodeDecodeError:
                continue
            if not line.strip():
                raise DataError(f"file has no header line: {self.path}")
            delimiter = sniff_delimiter(line)
            names = next(csv.reader([line], delimiter=delimiter, skipinitialspace=True))
            return [n.strip("\r\n") for n in names], delimiter
        raise DataError(f"cannot decode the header of {self.path} as UTF-8 or Latin-1 text")

    def batches(
        self, columns: Sequence[str], batch_size: int, dictionaries: Sequence[str] = ()
    ) -> Iterator[pa.RecordBatch]:
        """Record batches of ``batch_size`` leads with ``columns`` (those the file has);
        ``dictionaries`` are text columns read as dictionaries (Parquet)."""
        wanted = [c for c in dict.fromkeys(columns) if c in set(self.columns())]
        if self.parquet:
            reader = self._parquet([c for c in dictionaries if c in wanted])
            try:
                yield from reader.iter_batches(batch_size, columns=wanted, use_threads=True)
            except (pa.ArrowException, OSError) as exc:
                raise DataError(f"cannot read {self.path} as Parquet: {exc}") from None
            return
        yield from rebatched(self._csv_batches(wanted), batch_size)

    def _csv_batches(self, wanted: list[str]) -> Iterator[pa.RecordBatch]:
        names, delimiter = self._header()
        read = pacsv.ReadOptions(
            column_names=names, skip_rows=1, block_size=CSV_BLOCK, encoding=self.encoding
        )
        parse = pacsv.ParseOptions(delimiter=delimiter)
        convert = pacsv.ConvertOptions(
            column_types={c: pa.string() for c in wanted},
            include_columns=wanted,
            null_values=sorted(CSV_NA_VALUES),
            strings_can_be_null=True,
        )
        compression = "gzip" if self.path.suffix.lower() == ".gz" else None
        try:
            with pa.input_stream(str(self.path), compression=compression) as stream:
                reader = pacsv.open_csv(stream, read, parse, convert)
                yield from reader
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) and self.encoding == "utf8":
                raise NotUtf8(str(exc)) from None
            raise DataError(f"cannot parse {self.path} as CSV: {exc}") from None


class NotUtf8(DataError):
    """A CSV file is not UTF-8 text: read it again as Latin-1 (as ``read_table`` does)."""


def rebatched(batches: Iterator[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """The rows of ``batches`` again, ``size`` at a time (the last batch shorter)."""
    held: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        held.append(batch)
        count += batch.num_rows
        while count >= size:
            table = pa.Table.from_batches(held)
            yield table.slice(0, size).combine_chunks().to_batches()[0]
            rest = table.slice(size)
            held = rest.combine_chunks().to_batches() if rest.num_rows else []
            count = rest.num_rows
    if count:
        yield pa.Table.from_batches(held).combine_chunks().to_batches()[0]


def prefetched(batches: Iterator[_T], depth: int = 1) -> Iterator[_T]:
    """The items of ``batches``, read ahead by a thread: reading and decoding a file (which
    release the interpreter lock) run beside the scoring of the batch before. At most
    ``depth`` items wait; the reader's errors are raised here, in order.

    Parameters
    ----------
    batches:
        Any iterator (run in the thread).
    depth:
        Items read ahead at most.

    Example
    -------
    >>> list(prefetched(iter(range(5))))
    [0, 1, 2, 3, 4]
    """
    waiting: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for item in batches:
                if not put(("item", item)):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put(("error", exc))
            return
        put(("done", None))

    reader = threading.Thread(target=read, name="leadscore-read", daemon=True)
    reader.start()
    try:
        while True:
            kind, item = waiting.get()
            if kind == "done":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()  # the consumer stopped early (or failed): the reader stops too
        reader.join()


def lead_files(source: str | Path) -> list[LeadFile] | None:
    """The files behind a local source, if every one of them can be read in batches (CSV
    or Parquet); None otherwise (JSON, databases, S3: read whole, as before)."""
    from leadscore.data.sources import source_kind

    if isinstance(source, str) and source_kind(source) != "local":
        return None
    try:
        files = local_files(source)
    except DataError:
        return None
    suffixes = CSV_SUFFIXES | PARQUET_SUFFIXES
    if not files or any(base_suffix(path) not in suffixes for path, _ in files):
        return None
    return [LeadFile(path) for path, _ in files]
