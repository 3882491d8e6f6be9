"""A batch of leads in Arrow form, read as the model reads its inputs, without pandas.

:meth:`~leadscore.data.input_schema.InputSchema.conform` gives every model input its
training type on a pandas frame. :func:`read_inputs` does the same on an Arrow record
batch, a column at a time, for the types a lead table usually has:

* numbers (Arrow integers and floats): float64, missing values NaN;
* categories (Arrow text): each distinct value cleaned once — whitespace stripped and
  placeholders ("Select") missing, as :func:`~leadscore.data.columns.clean_text` does —
  and the rows as codes into those values; a dictionary column (a pandas ``category``
  written to Parquet) keeps its values as written, as ``conform`` keeps a category's;
* dates (Arrow timestamps): nanoseconds since 1970 in UTC, as ``conform`` makes them
  naive UTC times.

A column of any other type (numbers or dates written as text, booleans, decimals, numbers
in a category column) goes through ``conform`` itself, that column alone: the same values
and the same errors, naming rows of the file (``first_row`` is the batch's first).

Example
-------
>>> import pyarrow as pa
>>> from leadscore.data.input_schema import ColumnSpec, InputSchema
>>> schema = InputSchema([ColumnSpec("visits", "numeric"), ColumnSpec("src", "categorical")],
...                      ["Select"])
>>> batch = pa.record_batch({"visits": [3, None, 1], "src": [" google", "Select", "google"]})
>>> inputs = read_inputs(batch, schema)
>>> inputs.numbers["visits"].tolist(), inputs.levels["src"].texts()
([3.0, nan, 1.0], ['google', None, 'google'])
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from leadscore.data.input_schema import ColumnSpec, InputSchema

#: nanoseconds in a day
DAY_NS = 86_400 * 10**9
#: the NaT of int64 nanoseconds
NAT = np.iinfo(np.int64).min


@dataclass(frozen=True)
class Levels:
    """A category column: its distinct values (``None``: missing) and each row's code
    into them (−1: missing)."""

    values: list[str | None]
    codes: np.ndarray

    def texts(self) -> list[str | None]:
        """The rows' values (for tests and messages; the encoders use the codes)."""
        return [None if c < 0 else self.values[c] for c in self.codes]

    def lookup(self, table: np.ndarray, missing: np.ndarray) -> np.ndarray:
        """``table[i]`` for the rows of value ``i``, ``missing`` for missing rows: ``table``
        holds one entry (a number or a row of numbers) per distinct value."""
        full = np.concatenate([np.asarray(table), np.asarray(missing)[None, ...]])
        return full[np.where(self.codes < 0, len(self.values), self.codes)]


@dataclass
class InputColumns:
    """A batch's model inputs by kind: numbers, categories and dates (int64 ns, UTC)."""

    rows: int
    numbers: dict[str, np.ndarray] = field(default_factory=dict)
    levels: dict[str, Levels] = field(default_factory=dict)
    dates: dict[str, np.ndarray] = field(default_factory=dict)
    #: what the encoders derive from these columns, computed once for all fold models
    derived: dict[object, np.ndarray] = field(default_factory=dict)


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _is_number(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind))


def _numbers(column: pa.Array) -> np.ndarray:
    return np.asarray(
        column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
    ).copy()


def _dates(column: pa.Array) -> np.ndarray:
    """A timestamp column as int64 nanoseconds in UTC (``NAT`` where missing)."""
    unit = column.type.unit
    scale = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]
    values = pc.cast(column, pa.int64()).fill_null(NAT).to_numpy(zero_copy_only=False)
    out = np.asarray(values, dtype=np.int64) * scale
    out[values == NAT] = NAT
    return out


def _levels(
    column: pa.Array, clean: bool, placeholders: Collection[str], na_values: Collection[str]
) -> Levels:
    """Distinct values once, cleaned as ``clean_text`` (when ``clean``), and row codes."""
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
    values: list[str | None] = []
    for raw in encoded.dictionary.to_pylist():
        value = None if raw is None else str(raw)
        if value is not None and na_values and value.lstrip(" ") in na_values:
            value = None  # a CSV reader's missing-value word after leading blanks
        if value is not None and clean:
            value = value.strip()
            if value in placeholders:
                value = None
        values.append(value)
    gone = np.array([v is None for v in values] + [True], dtype=bool)
    codes = np.where(gone[np.where(codes < 0, len(values), codes)], -1, codes).astype(np.int32)
    return Levels(values, codes)


def _text_numbers(column: pa.Array, placeholders: Collection[str]) -> np.ndarray | None:
    """Numbers written as text, or None when Arrow cannot read one of them (``conform``
    then says which)."""
    stripped = pc.utf8_trim_whitespace(column)
    gone = pc.is_in(stripped, value_set=pa.array(sorted(placeholders), pa.string()))
    try:
        values = pc.cast(pc.if_else(gone, None, stripped), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return _numbers(values)


def read_inputs(
    batch: pa.RecordBatch,
    schema: InputSchema,
    *,
    first_row: int = 0,
    text: Collection[str] | None = None,
    na_values: Collection[str] = (),
) -> InputColumns:
    """The model inputs of ``batch`` by kind, as ``schema.conform`` types them.

    Parameters
    ----------
    batch:
        Leads, with at least the model's input columns (a missing one is an error naming
        it, as ``conform``'s).
    schema:
        The model's input schema.
    first_row:
        The batch's first row in the file (0-based), for the rows errors name.
    text:
        The columns that are text in the source, cleaned as text (default: the batch's
        text columns). A Parquet column read as a dictionary is still text if the file
        says so.
    na_values:
        Words a CSV reader takes for missing after leading blanks (pandas' ``NA``, ``NULL``,
        …), for text the Arrow reader kept as it was.
    """
    if any(c not in batch.schema.names for c in schema.names):
        schema.conform(pd.DataFrame(columns=batch.schema.names))  # names the missing ones
    placeholders = set(schema.missing_values)
    out = InputColumns(batch.num_rows)
    slow: list[ColumnSpec] = []
    for spec in schema.columns:
        column = batch.column(spec.name)
        kind = column.type
        value_kind = kind.value_type if pa.types.is_dictionary(kind) else kind
        is_text = spec.name in text if text is not None else _is_text(kind)
        if spec.kind == "numeric" and _is_number(kind):
            out.numbers[spec.name] = _numbers(column)
        elif spec.kind == "numeric" and _is_text(kind):
            found = _text_numbers(column, placeholders | set(na_values))
            if found is None:
                slow.append(spec)
            else:
                out.numbers[spec.name] = found
        elif spec.kind == "datetime" and pa.types.is_timestamp(kind):
            out.dates[spec.name] = _dates(column)
        elif spec.kind == "categorical" and _is_text(value_kind):
            out.levels[spec.name] = _levels(column, is_text, placeholders, na_values)
        else:
            slow.append(spec)
    if slow:
        _conform_slowly(batch, slow, schema.missing_values, first_row, out)
    return out


def _conform_slowly(
    batch: pa.RecordBatch,
    specs: list[ColumnSpec],
    missing_values: list[str],
    first_row: int,
    out: InputColumns,
) -> None:
    """``conform`` on the columns the fast readers leave (see the module docstring)."""
    index = pd.RangeIndex(first_row, first_row + batch.num_rows)
    frame = pd.DataFrame({s.name: batch.column(s.name).to_pandas().set_axis(index) for s in specs})
    conformed = InputSchema(specs, list(missing_values)).conform(frame)
    for spec in specs:
        series = conformed[spec.name]
        if spec.kind == "numeric":
            out.numbers[spec.name] = series.to_numpy(dtype=np.float64, na_value=np.nan)
        elif spec.kind == "datetime":
            out.dates[spec.name] = series.to_numpy(dtype="datetime64[ns]").view(np.int64)
        else:
            values = series.astype(object).where(series.notna(), None)
            out.levels[spec.name] = _levels(pa.array(values.tolist(), pa.string()), False, (), ())
