"""The types a Spark job's output columns get, and the counts its tasks add up.

A partition's lead rows are pandas frames whose types depend on the rows they hold (an
integer column with a missing value becomes float; a text column missing throughout has
no type at all), while Spark needs one schema for every partition, known before the job
runs. :func:`arrow_schema` finds it from the driver's sample rows, widened so that every
chunk's rows fit; :func:`leadscore.spark.chunks.to_arrow` then casts each chunk to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

try:  # an accumulator's type is PySpark's; the counts are plain dicts without it
    from pyspark.accumulators import AccumulatorParam
except ImportError:  # pragma: no cover - PySpark is optional
    AccumulatorParam = object  # type: ignore[assignment,misc]


class Counts(AccumulatorParam):  # type: ignore[misc,valid-type]
    """Counts by name, added up over the tasks (an accumulator's rule).

    Example
    -------
    >>> Counts().addInPlace({"events read": 3}, {"events read": 2, "leads": 1})
    {'events read': 5, 'leads': 1}
    """

    def zero(self, value: dict[str, int]) -> dict[str, int]:
        return {}

    def addInPlace(self, value1: dict[str, int], value2: dict[str, int]) -> dict[str, int]:
        for key, n in value2.items():
            value1[key] = value1.get(key, 0) + int(n)
        return value1


def widened(kind: pa.DataType) -> pa.DataType:
    """The type every chunk's values of a column fit: integers as floats (a chunk may
    miss a value), text (and no type) as strings, times in microseconds (Spark's unit).

    Example
    -------
    >>> widened(pa.int64()), widened(pa.null()), widened(pa.timestamp("ns"))
    (DataType(double), DataType(string), TimestampType(timestamp[us]))
    """
    if pa.types.is_dictionary(kind):
        return widened(kind.value_type)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return pa.float64()
    if pa.types.is_timestamp(kind):
        return pa.timestamp("us")
    if pa.types.is_boolean(kind) or pa.types.is_date(kind) or pa.types.is_decimal(kind):
        return kind
    return pa.string()


def _type_of(values: pd.Series) -> pa.DataType:
    try:
        return pa.array(values, from_pandas=True).type
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed values: kept as text
        return pa.string()


def arrow_schema(rows: pd.DataFrame, known: Mapping[str, pd.Series] | None = None) -> pa.Schema:
    """The output schema of lead rows like ``rows``; a column in ``known`` takes its
    type from those values instead (a CRM field: from the whole CRM table, not from the
    few leads of a sample).

    Parameters
    ----------
    rows:
        Sample output rows (every column present).
    known:
        Column name → values that show its type.

    Example
    -------
    >>> rows = pd.DataFrame({"lead_id": ["a"], "events": [3], "crm_size": [None]})
    >>> arrow_schema(rows, {"crm_size": pd.Series([10, 20])}).types
    [DataType(string), DataType(double), DataType(double)]
    """
    known = known or {}
    fields = []
    for name in rows.columns:
        values = known[name] if name in known else rows[name]
        fields.append(pa.field(str(name), widened(_type_of(values))))
    return pa.schema(fields)


def spark_schema(schema: pa.Schema) -> StructType:
    """The Spark schema of an Arrow schema (times without a zone stay without one)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema, prefer_timestamp_ntz=True)
