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
        self.waiting: list[pd.DataFrame | pa.Table] = []
        self.rows = 0

    def add(self, rows: pd.DataFrame | pa.Table, complete: bool) -> None:
        """Append ``rows`` (a frame, or its Arrow table); ``complete``: they have every
        column (else they wait for rows that do)."""
        if not complete:
            self.waiting.append(rows)
            return
        if not self.columns:
            if isinstance(rows, pd.DataFrame):
                schema = pa.Table.from_pandas(rows, preserve_index=False).schema
            else:
                schema = rows.schema
            self.columns = list(schema.names)
            self.schema = schema.remove_metadata()
            if self.parquet:
                self.writer = pq.ParquetWriter(self.tmp, self.schema)
        self._append(rows)

    def _append(self, rows: pd.DataFrame | pa.Table) -> None:
        if self.writer is None:
            frame = rows if isinstance(rows, pd.DataFrame) else rows.to_pandas()
            frame = frame.reindex(columns=self.columns)
            frame.to_csv(self.tmp, mode="a", header=self.rows == 0, index=False, sep=self.sep)
        else:
            self.writer.write_table(self._conformed(rows))
        self.rows += len(rows)

    def _conformed(self, rows: pd.DataFrame | pa.Table) -> pa.Table:
        """``rows`` in the table's columns and types: a column the rows lack, or hold no
        value of, is all missing."""
        assert self.schema is not None
        names = rows.columns if isinstance(rows, pd.DataFrame) else rows.column_names
        given, n = set(names), len(rows)
        arrays = []
        for name, kind in zip(self.schema.names, self.schema.types, strict=True):
            if name not in given:
                arrays.append(pa.nulls(n, kind))
            elif isinstance(rows, pd.DataFrame):
                values = rows[name]
                empty = bool(values.isna().all())
                arrays.append(
                    pa.nulls(n, kind) if empty else pa.array(values, kind, from_pandas=True)
                )
            else:
                column = rows.column(name)
                if column.type == kind:
                    arrays.append(column)
                else:
                    arrays.append(
                        pa.nulls(n, kind) if column.null_count == n else column.cast(kind)
                    )
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def close(self) -> None:
        waiting, self.waiting = self.waiting, []
        if not self.columns:  # no lead has events: the table is the waiting frames alone
            if not waiting:
                raise DataError("no lead has events: nothing to write")
            frames = [w if isinstance(w, pd.DataFrame) else w.to_pandas() for w in waiting]
            self.add(pd.concat(frames, ignore_index=True), complete=True)
            waiting = []
        for rows in waiting:
            self._append(rows)
        if self.writer is not None:
            self.writer.close()
        self.tmp.replace(self.out)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.tmp.unlink(missing_ok=True)
