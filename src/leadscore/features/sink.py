"""The streamed lead table's output: rows appended bucket by bucket to Parquet or CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from leadscore.data.table_files import PARQUET_SUFFIXES
from leadscore.errors import DataError


class TableSink:
    """Appends frames to a Parquet or CSV file under a temporary name, renamed at the end
    (a crash never leaves a half-written table). Frames of buckets whose leads have no
    events lack the feature columns: they wait until a full frame fixes the columns.

    Parameters
    ----------
    out:
        The table to write (``.parquet``, else CSV; ``.tsv`` tab-separated).

    Example
    -------
    >>> sink = TableSink(Path("leads.parquet"))
    >>> sink.add(pd.DataFrame({"lead_id": ["a"], "events": [2.0]}), complete=True)
    >>> sink.add(pd.DataFrame({"lead_id": ["b"]}), complete=False)
    >>> sink.close()
    >>> pd.read_parquet("leads.parquet").to_dict("list")
    {'lead_id': ['a', 'b'], 'events': [2.0, nan]}
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        self.tmp = out.with_name(f".{out.name}.partial")
        out.parent.mkdir(parents=True, exist_ok=True)
        self.parquet = out.suffix.lower() in PARQUET_SUFFIXES
        self.sep = "\t" if out.suffix.lower() == ".tsv" else ","
        self.columns: list[str] = []
        self.schema: pa.Schema | None = None
        self.writer: pq.ParquetWriter | None = None
        self.waiting: list[pd.DataFrame] = []
        self.rows = 0

    def add(self, frame: pd.DataFrame, complete: bool) -> None:
        if not complete:
            self.waiting.append(frame)
            return
        if not self.columns:
            self.columns = list(frame.columns)
            self.schema = pa.Table.from_pandas(frame, preserve_index=False).schema
            self.schema = self.schema.remove_metadata()
            if self.parquet:
                self.writer = pq.ParquetWriter(self.tmp, self.schema)
        self._append(frame)

    def _append(self, frame: pd.DataFrame) -> None:
        frame = frame.reindex(columns=self.columns)
        if self.writer is None:
            frame.to_csv(self.tmp, mode="a", header=self.rows == 0, index=False, sep=self.sep)
        else:
            assert self.schema is not None
            arrays = [
                pa.nulls(len(frame), kind)
                if frame[name].isna().all()
                else pa.array(frame[name], kind, from_pandas=True)
                for name, kind in zip(self.schema.names, self.schema.types, strict=True)
            ]
            self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        self.rows += len(frame)

    def close(self) -> None:
        waiting, self.waiting = self.waiting, []
        if not self.columns:  # no lead has events: the table is the waiting frames alone
            if not waiting:
                raise DataError("no lead has events: nothing to write")
            self.add(pd.concat(waiting, ignore_index=True), complete=True)
            waiting = []
        for frame in waiting:
            self._append(frame)
        if self.writer is not None:
            self.writer.close()
        self.tmp.replace(self.out)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.tmp.unlink(missing_ok=True)
