"""A lead's raw values as the model was trained on them, and the boosters' input row.

A request brings a mapping of field → value (strings, numbers, ISO dates, ``None``).
:class:`Cleaner` types it as training did (``conform``: placeholders such as "Select" are
missing, numbers are floats, dates are naive UTC timestamps) and names the field of a
value that cannot be read. :class:`NativeEncoder` turns a cleaned lead into a gradient
booster's row of numbers — inputs in the date transformer's order, date parts, and the
category codes the booster was trained on — without building a DataFrame, which for one
lead would cost more than the model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from leadscore.errors import SchemaError
from leadscore.features.dates import PARTS, parts_of
from leadscore.modeling.model import LeadModel
from leadscore.modeling.preprocess import MISSING, OTHER, CategoryCoder

Row = Mapping[str, Any]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _timestamp(value: Any) -> pd.Timestamp | None:
    if _missing(value):
        return None
    stamp = value if isinstance(value, pd.Timestamp) else pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp


class Cleaner:
    """Raw request values → the typed values the model was trained on (as ``conform``)."""

    def __init__(self, model: LeadModel) -> None:
        schema = model.schema_
        self.columns = [(c.name, c.kind) for c in schema.columns]
        self.placeholders = set(schema.missing_values)

    def __call__(self, row: Row) -> dict[str, Any]:
        clean: dict[str, Any] = {}
        for name, kind in self.columns:
            value = row.get(name)
            if isinstance(value, str):
                value = value.strip()
                if value in self.placeholders:
                    value = None
            try:
                if kind == "numeric":
                    clean[name] = math.nan if _missing(value) else float(value)
                elif kind == "datetime":
                    clean[name] = _timestamp(value)
                else:
                    clean[name] = None if _missing(value) else str(value)
            except (TypeError, ValueError) as exc:
                wanted = "a number" if kind == "numeric" else "a date and time"
                raise SchemaError(f"field {name!r} must be {wanted}, got {value!r}") from exc
        return clean


class NativeEncoder:
    """The booster's input row: inputs in DateParts order, categories as training codes."""

    def __init__(self, prep: Any) -> None:
        dates = prep.named_steps["dates"]
        coder: CategoryCoder = prep.named_steps["categories"]
        self.date_columns = list(dates.columns_)
        self.reference = dates.reference
        inputs = [str(c) for c in dates.feature_names_in_]
        self.plain = [c for c in inputs if c not in self.date_columns]
        self.codes = {
            column: {level: float(i) for i, level in enumerate(levels)}
            for column, levels in coder.levels_.items()
        }
        #: the input field behind each booster column (date parts belong to their date)
        self.owners = list(self.plain)
        for column in self.date_columns:
            gap = self.reference is not None and column != self.reference
            self.owners.extend([column] * (len(PARTS) + int(gap)))

    def __call__(self, row: Mapping[str, Any]) -> list[float]:
        out: list[float] = []
        for column in self.plain:
            codes = self.codes.get(column)
            if codes is None:
                out.append(row[column])
            else:
                value = row[column]
                key = MISSING if value is None else value
                out.append(codes.get(key, codes[OTHER]))
        for column in self.date_columns:
            stamp = row[column]
            out.extend(parts_of(stamp))
            if self.reference is not None and column != self.reference:
                ref = row[self.reference]
                gap = (stamp - ref).total_seconds() / 86400 if stamp and ref else math.nan
                out.append(gap)
        return out
