"""What a model expects at scoring time: its input columns, their kinds and levels.

:class:`InputSchema` is taken from the training features and saved with the model. On
new data it names every missing column and conforms the others to their training types
(placeholders become missing, numbers stored as text become numbers, dates are parsed),
refusing values that cannot be read as their column's type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from leadscore.config import DEFAULT_MISSING_VALUES
from leadscore.data.columns import (
    ColumnKind,
    clean_text,
    file_rows,
    is_text,
    missing_column_error,
    shown,
    to_datetime,
)
from leadscore.errors import SchemaError


@dataclass
class ColumnSpec:
    """One model input column: its name, kind and (for categories) the levels seen."""

    name: str
    kind: ColumnKind
    categories: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "categories": self.categories}


@dataclass
class InputSchema:
    """The columns a model expects, with their kinds; validates and conforms new data.

    Example
    -------
    >>> schema = InputSchema.from_frame(pd.DataFrame({"visits": [1.0, 2.0], "src": ["a", "b"]}))
    >>> schema.conform(pd.DataFrame({"src": ["c"], "visits": ["3"], "extra": [0]})).dtypes.tolist()
    [dtype('float64'), dtype('O')]
    """

    columns: list[ColumnSpec]
    missing_values: list[str] = field(default_factory=list)

    _MAX_CATEGORIES_KEPT = 500

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, missing_values: Sequence[str] = DEFAULT_MISSING_VALUES
    ) -> InputSchema:
        specs = []
        for name in frame.columns:
            series = frame[name]
            if pd.api.types.is_datetime64_any_dtype(series.dtype):
                specs.append(ColumnSpec(str(name), "datetime"))
            elif pd.api.types.is_numeric_dtype(series.dtype):
                specs.append(ColumnSpec(str(name), "numeric"))
            else:
                levels = series.dropna().astype(str).value_counts().index.tolist()
                specs.append(
                    ColumnSpec(str(name), "categorical", levels[: cls._MAX_CATEGORIES_KEPT])
                )
        return cls(specs, list(missing_values))

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def of_kind(self, kind: ColumnKind) -> list[str]:
        return [c.name for c in self.columns if c.kind == kind]

    def conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Select the model's columns in order and give them the training types.

        Raises :class:`SchemaError` naming every missing column, or a column whose values
        cannot be read as its training type (text in a numeric column, non-dates).
        Extra columns are ignored; unseen categories are kept (the model handles them).
        """
        missing = [c for c in self.names if c not in frame.columns]
        if missing:
            raise SchemaError(
                missing_column_error(missing, list(frame.columns), "required")
                + ". The model was trained with these columns; add them (empty values are"
                " allowed) or retrain without them."
            )
        out = {}
        for spec in self.columns:
            series = frame[spec.name]
            if is_text(series) or series.dtype == object:
                series = clean_text(series, self.missing_values)
            if spec.kind == "numeric":
                out[spec.name] = self._to_number(series, spec.name)
            elif spec.kind == "datetime":
                parsed = to_datetime(series)
                bad = series.notna() & parsed.isna()
                if bad.any():
                    values = shown(series[bad].astype(str).unique())
                    raise SchemaError(
                        f"column {spec.name!r} must hold dates, but has {values} "
                        f"at rows {file_rows(series[bad].index)}"
                    )
                out[spec.name] = parsed
            else:
                text = series.astype(object)
                out[spec.name] = text.where(text.isna(), text.astype(str))
        return pd.DataFrame(out, index=frame.index)

    @staticmethod
    def _to_number(series: pd.Series, name: str) -> pd.Series:
        if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
            return series.astype(float)
        numbers = pd.to_numeric(series, errors="coerce")
        bad = series.notna() & numbers.isna()
        if bad.any():
            raise SchemaError(
                f"column {name!r} must hold numbers, but has "
                f"{shown(series[bad].astype(str).unique())} at rows {file_rows(series[bad].index)}"
            )
        return numbers.astype(float)

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [c.to_dict() for c in self.columns],
            "missing_values": self.missing_values,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSchema:
        return cls([ColumnSpec(**c) for c in data["columns"]], list(data.get("missing_values", [])))
