"""Reading one event file: JSON lines, CSV or Parquet (text formats optionally gzip),
with the file line number of every row and broken lines set aside.

:func:`read_event_file` returns the rows, the lines that could not be read (a broken
JSON line, a JSON value that is not an object, a CSV row with the wrong number of
fields) as quarantine records with file, line and reason, and the line number of every
row kept. Nested ``properties`` / ``context`` objects (Mixpanel, Segment) are lifted to
the top; repetitive text is read as categoricals, built in Arrow.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from leadscore.data.event_schema import map_columns
from leadscore.data.table_files import base_suffix, sniff_delimiter
from leadscore.errors import DataError


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return path.open(encoding="utf-8", errors="replace", newline="")


def _read_jsonl(path: Path) -> tuple[pd.DataFrame, list[dict[str, Any]], np.ndarray]:
    """Rows, quarantined lines, and the file line number of every row."""
    if path.suffix != ".gz":
        try:
            table = pa_json.read_json(path, read_options=pa_json.ReadOptions(block_size=1 << 24))
            frame = _flatten(table)
            return frame, [], _non_blank_lines(path, len(frame))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass  # a malformed line or mixed types: fall back to line by line
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    bad: list[dict[str, Any]] = []
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                bad.append(_bad(path, number, f"broken JSON ({exc.msg})", text))
                continue
            if not isinstance(record, dict):
                bad.append(_bad(path, number, "a JSON line that is not an object", text))
                continue
            records.append(_flatten_record(record))
            lines.append(number)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    return frame, bad, np.asarray(lines, dtype=np.int64)


def _non_blank_lines(path: Path, expected: int) -> np.ndarray:
    """File line numbers of the non-blank lines (the fast JSON reader skips blank ones)."""
    data = path.read_bytes()
    if not re.search(rb"(^|\n)[ \t\r]*(\n|$)", data.rstrip(b"\r\n")):
        return np.arange(1, expected + 1)  # no blank line: the common case, no scan
    numbers = [i for i, line in enumerate(data.split(b"\n"), start=1) if line.strip()]
    return np.asarray(numbers[:expected], dtype=np.int64)


def _flatten_record(record: dict[str, Any]) -> dict[str, Any]:
    """Nested ``properties`` / ``context`` objects (Mixpanel, Segment) lifted to the top."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            for inner, inner_value in _flatten_record(value).items():
                flat.setdefault(inner, inner_value)
        else:
            flat[key] = value
    return flat


def _flatten(table: pa.Table) -> pd.DataFrame:
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    frame = _to_pandas(table)
    frame.columns = [str(c).split(".")[-1] for c in frame.columns]
    return frame.loc[:, ~frame.columns.duplicated()]


def _bad(path: Path, line: int, reason: str, raw: str) -> dict[str, Any]:
    """A quarantine record: file, line, reason and the raw text (cut at 500 characters)."""
    return {"file": str(path), "line": line, "reason": reason, "raw": raw[:500]}


def _read_csv(path: Path) -> tuple[pd.DataFrame, list[dict[str, Any]], np.ndarray]:
    with _open_text(path) as handle:
        header = handle.readline()
    if not header.strip():
        raise DataError(f"event file is empty: {path}")
    delimiter = "\t" if base_suffix(path) == ".tsv" else sniff_delimiter(header)
    bad: list[dict[str, Any]] = []

    def invalid(row: pa_csv.InvalidRow) -> str:
        bad.append(
            _bad(
                path, row.number or 0,
                f"{row.actual_columns} fields where the header has {row.expected_columns}",
                row.text or "",
            )
        )  # fmt: skip
        return "skip"

    def read(encoding: str) -> pa.Table:
        bad.clear()
        return pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(encoding=encoding),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=invalid
            ),
            convert_options=pa_csv.ConvertOptions(strings_can_be_null=True),
        )

    try:
        table = read("utf8")
        if any(pa.types.is_binary(f.type) for f in table.schema):
            table = read("latin1")  # not valid UTF-8: a spreadsheet export, most likely
    except pa.ArrowInvalid as exc:
        raise DataError(f"cannot parse {path} as CSV: {exc}") from None
    if any(not b["line"] for b in bad):
        _locate_lines(path, bad)
    frame = _to_pandas(table)
    skipped = sorted(b["line"] for b in bad)
    # Line numbers of kept rows: data rows start on line 2, minus skipped lines before them.
    lines = np.arange(2, len(frame) + 2 + len(skipped), dtype=np.int64)
    if skipped:
        lines = lines[~np.isin(lines, skipped)][: len(frame)]
    return frame, bad, lines


def _locate_lines(path: Path, bad: list[dict[str, Any]]) -> None:
    """Fill in line numbers the CSV parser did not report, by finding each row's text."""
    with _open_text(path) as handle:
        lines = [line.rstrip("\r\n") for line in handle]
    taken: set[int] = {b["line"] for b in bad if b["line"]}
    for item in bad:
        if item["line"]:
            continue
        for number, text in enumerate(lines, start=1):
            if number not in taken and text == item["raw"]:
                item["line"] = number
                taken.add(number)
                break


def dictionary_columns(names: list[str], types: list[pa.DataType]) -> list[str]:
    """Text columns to read dictionary-encoded (categorical): all but the event id, whose
    values are unique per event and would only make a dictionary as large as the data."""
    event_ids = {c for c, target in map_columns(names).items() if target == "event_id"}
    return [
        name
        for name, kind in zip(names, types, strict=True)
        if (pa.types.is_string(kind) or pa.types.is_large_string(kind)) and name not in event_ids
    ]


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow → pandas with repetitive text as categoricals (built in Arrow, not Python)."""
    names = [str(n).split(".")[-1] for n in table.column_names]
    encode = set(dictionary_columns(names, table.schema.types))
    for i, name in enumerate(names):
        if name in encode:
            table = table.set_column(i, table.field(i).name, pc.dictionary_encode(table.column(i)))
    return table.to_pandas()


def read_event_file(path: Path) -> tuple[pd.DataFrame, list[dict[str, Any]], np.ndarray]:
    """The rows of one event file, its unreadable lines (quarantine records) and the file
    line number of every row."""
    if not path.exists():
        raise DataError(f"event file not found: {path}")
    if path.stat().st_size == 0:
        raise DataError(f"event file is empty: {path}")
    suffix = base_suffix(path)
    if suffix in (".parquet", ".pq"):
        try:
            schema = pq.read_schema(path)
            table = pq.read_table(
                path, read_dictionary=dictionary_columns(schema.names, schema.types)
            )
            # hand Arrow's memory over column by column instead of holding both copies
            frame = table.to_pandas(split_blocks=True, self_destruct=True)
            del table
        except Exception as exc:  # pyarrow raises many types; all mean "not readable"
            raise DataError(f"cannot read {path} as Parquet: {exc}") from None
        return frame, [], np.arange(1, len(frame) + 1)
    if suffix in (".csv", ".tsv"):
        return _read_csv(path)
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _read_jsonl(path)
    raise DataError(
        f"cannot tell the format of {path}: events come as .jsonl, .csv or .parquet "
        "(optionally .gz)"
    )
