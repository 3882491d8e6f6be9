"""Event batches in Arrow: one file's rows mapped onto the event schema without pandas.

:func:`normalise_table` does what :func:`~leadscore.data.event_schema.normalise` does,
on an Arrow table (a Parquet row group, say): the same column mapping, the same text rules
(applied to each column's distinct values, through the same
:func:`~leadscore.data.event_schema.text_categories`), the same time parsing and the same
quarantine reasons. Text stays dictionary-encoded (:data:`EVENT_ARROW_SCHEMA`), so a batch
of a million events costs a few hundred milliseconds and little memory, whether it is
loaded whole (:func:`~leadscore.data.events.load_events`) or streamed to disk by lead
(:mod:`leadscore.features.partition`). :func:`to_event_table` turns a normalised pandas
frame (from JSON lines or CSV) into the same Arrow layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from leadscore.data.event_files import dictionary_columns
from leadscore.data.event_schema import (
    EVENT_COLUMNS,
    TEXT_COLUMNS,
    as_text_category,
    parse_timestamps,
    quarantine_reasons,
    raw_rows,
    schema_mapping,
    text_categories,
)
from leadscore.errors import DataError

_TEXT = pa.dictionary(pa.int32(), pa.string())
_TYPES = {
    "timestamp": pa.timestamp("ns"),
    "event_id": pa.string(),
    "tz_offset_minutes": pa.float64(),
}
#: normalised events in Arrow: text dictionary-encoded, times naive UTC in nanoseconds
EVENT_ARROW_SCHEMA = pa.schema([(c, _TYPES.get(c, _TEXT)) for c in EVENT_COLUMNS])
_NAT = np.iinfo(np.int64).min


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _dictionary(codes: np.ndarray, values: pd.Index | pa.Array) -> pa.DictionaryArray:
    """Codes (-1 = missing) and their values as an Arrow dictionary array."""
    indices = pa.array(codes.astype(np.int32), mask=codes < 0)
    if isinstance(values, pd.Index):
        values = pa.array(values.to_numpy(), pa.string())
    return pa.DictionaryArray.from_arrays(indices, values.cast(pa.string()))


def _text(values: pa.Array) -> pa.DictionaryArray:
    """A column as normalised text: the rules run once per distinct value."""
    if pa.types.is_dictionary(values.type) and _is_text(values.type.value_type):
        encoded = values
    elif _is_text(values.type):
        encoded = pc.dictionary_encode(values)
    else:  # numbers, booleans …: their text is pandas' (12345.0 → "12345")
        categorical = as_text_category(pd.Series(values.to_pandas()))
        return _dictionary(categorical.cat.codes.to_numpy(), categorical.cat.categories)
    values = encoded.dictionary
    # the common case: no value has spaces around it or is empty, so there is nothing to
    # merge or drop (pandas strips str values with this same Arrow kernel)
    clean = pc.all(pc.equal(pc.utf8_trim_whitespace(values), values)).as_py() is not False
    empty = np.flatnonzero(pc.equal(values, "").to_numpy(zero_copy_only=False))
    if clean and not len(empty):
        return encoded.cast(_TEXT)
    if clean:  # only the empty text to drop: text_categories' result without factorising
        codes = np.arange(len(values))
        codes = np.append(np.where(codes == empty[0], -1, codes - (codes > empty[0])), -1)
        lookup, uniques = codes, values.filter(pc.not_equal(values, ""))
    else:
        lookup, uniques = text_categories(pd.Index(values.to_pylist(), dtype=object))
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    codes = np.where(encoded.indices.is_null().to_numpy(zero_copy_only=False), -1, indices)
    return _dictionary(lookup[codes.astype(np.int64)], uniques)


def _times(values: pa.Array, where: str) -> pa.Array:
    """Naive UTC nanoseconds. Arrow timestamps hold UTC whatever their zone; anything else
    (text, epoch numbers) is parsed by :func:`parse_timestamps`."""
    if pa.types.is_timestamp(values.type):
        try:
            return values.cast(pa.timestamp(values.type.unit)).cast(pa.timestamp("ns"))
        except pa.ArrowInvalid:
            pass  # beyond the nanosecond range: pandas says so the usual way
    parsed = parse_timestamps(pd.Series(values.to_pandas()), where)
    return pa.array(parsed.to_numpy("datetime64[ns]"), pa.timestamp("ns"))


def _event_ids(values: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if _is_text(values.type):
        return values.cast(pa.string())
    series = pd.Series(values.to_pandas())
    return pa.array(series.astype("str").where(series.notna()), pa.string(), from_pandas=True)


def _numbers(values: pa.Array) -> pa.Array:
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        return values.cast(pa.float64())
    numbers = pd.to_numeric(pd.Series(values.to_pandas()), errors="coerce")
    return pa.array(numbers.to_numpy(dtype=float, na_value=np.nan), pa.float64())


def normalise_table(
    table: pa.Table, path: str, first_line: int = 1
) -> tuple[pa.Table, pd.DataFrame]:
    """Map one batch of a file onto :data:`EVENT_ARROW_SCHEMA`; split off unusable rows.

    Parameters
    ----------
    table:
        The batch as read (any column names the event schema knows).
    path:
        The file, for messages and the quarantine.
    first_line:
        The row number in the file of the batch's first row.

    Example
    -------
    >>> batch = pa.table({"client_id": [" a", None], "event": ["page_view", "signup"],
    ...                   "time": ["2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z"]})
    >>> good, quarantined = normalise_table(batch, "events.parquet")
    >>> good["lead_id"].to_pylist(), quarantined["reason"].tolist()
    (['a'], ['no lead id'])
    """
    names = [str(n) for n in table.column_names]
    mapping = schema_mapping(names, path)
    source = {target: table.column(names.index(name)) for name, target in mapping.items()}
    n = table.num_rows
    columns: list[pa.Array] = []
    for column in EVENT_COLUMNS:
        kind = EVENT_ARROW_SCHEMA.field(column).type
        given = source.get(column)
        if given is None:
            columns.append(pa.nulls(n, kind))
            continue
        # one chunk, one dictionary (combine_chunks unifies them)
        values = given.chunk(0) if given.num_chunks == 1 else given.combine_chunks()
        if column == "timestamp":
            columns.append(_times(values, f"time column of {path}"))
        elif column in TEXT_COLUMNS:
            columns.append(_text(values))
        elif column == "event_id":
            columns.append(_event_ids(values))
        else:
            columns.append(_numbers(values))
    if "referrer" in mapping.values():
        # as in normalise: a recorded but empty referrer is a direct visit
        referrer = columns[EVENT_COLUMNS.index("referrer")]
        columns[EVENT_COLUMNS.index("referrer")] = _fill_empty(referrer)
    out = pa.Table.from_arrays(columns, schema=EVENT_ARROW_SCHEMA)
    times = columns[EVENT_COLUMNS.index("timestamp")]
    reasons = quarantine_reasons(
        _nulls(columns[EVENT_COLUMNS.index("lead_id")]),
        _nulls(columns[EVENT_COLUMNS.index("event")]),
        times.cast(pa.int64()).fill_null(_NAT).to_numpy(),
    )
    bad = pd.notna(reasons)
    if not bad.any():
        return out, _quarantine(path, np.array([], dtype=np.int64), reasons[:0], [])
    raw = raw_rows(table.filter(pa.array(bad)).to_pandas())
    lines = np.flatnonzero(bad) + first_line
    return out.filter(pa.array(~bad)), _quarantine(path, lines, reasons[bad], raw)


def _nulls(values: pa.Array) -> np.ndarray:
    if values.null_count == 0:
        return np.zeros(len(values), dtype=bool)
    return values.is_null().to_numpy(zero_copy_only=False)


def _fill_empty(referrer: pa.DictionaryArray) -> pa.DictionaryArray:
    """Missing referrers as the empty one (appended to the values when none is empty), in
    Arrow: a batch's distinct referrers never become Python strings."""
    values = referrer.dictionary.cast(pa.string())
    empty = pc.index(values, "").as_py()
    if empty < 0:
        empty = len(values)
        values = pa.concat_arrays([values, pa.array([""], pa.string())])
    indices = referrer.indices.fill_null(empty).cast(pa.int32())
    return pa.DictionaryArray.from_arrays(indices, values)


def _quarantine(path: str, lines: np.ndarray, reasons: np.ndarray, raw: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"file": path, "line": lines, "reason": reasons, "raw": raw})


def to_event_table(events: pd.DataFrame) -> pa.Table:
    """Normalised events (:func:`~leadscore.data.event_schema.normalise`'s frame) in the
    Arrow layout of :data:`EVENT_ARROW_SCHEMA`."""
    columns = []
    for column in EVENT_COLUMNS:
        values = events[column]
        if column in TEXT_COLUMNS:
            categories = pd.Index(values.cat.categories, dtype=object)
            columns.append(_dictionary(values.cat.codes.to_numpy().astype(np.int64), categories))
        else:
            kind = EVENT_ARROW_SCHEMA.field(column).type
            columns.append(pa.array(values, kind, from_pandas=True))
    return pa.Table.from_arrays(columns, schema=EVENT_ARROW_SCHEMA)


def parquet_batches(path: Path, rows: int) -> Iterator[tuple[pa.Table, int]]:
    """A Parquet file in batches of about ``rows`` rows, text read dictionary-encoded,
    each with the row number of its first row."""
    try:
        schema = pq.read_schema(path)
        # without pre-buffering, a batch at a time is all the reader holds (with it, the
        # reader kept ~0.5 GB of a 450 MB file's row groups)
        handle = pq.ParquetFile(
            path, read_dictionary=dictionary_columns(schema.names, schema.types), pre_buffer=False
        )
        line = 1
        for batch in handle.iter_batches(batch_size=rows):
            yield pa.Table.from_batches([batch]), line
            line += batch.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"cannot read {path} as Parquet: {exc}") from None
