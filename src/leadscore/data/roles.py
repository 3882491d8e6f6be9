"""Column roles: which column is the outcome (and its values as 1/0), the lead id, the
creation time; and the roles ``leadscore features`` writes beside a lead table.

Left unset, the target is found by name (converted, won, target, …) and the id as a
column unique per row; a date column named like a creation time is pointed out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from leadscore.config import Roles
from leadscore.data.columns import file_rows, is_text, normalise_name, shown
from leadscore.errors import DataError, SchemaError

# Column names (normalised to lower_snake) that mean "the outcome", in order of preference.
TARGET_NAMES = (
    "converted", "is_converted", "conversion", "won", "is_won", "closed_won", "target",
    "label", "outcome", "y", "purchased", "sold", "signed_up", "is_customer",
)  # fmt: skip
_ID_NAME = re.compile(r"(^|_)(id|uuid|guid|key|number|no|nr|code)$")
_CREATED_NAME = re.compile(
    r"(created|creation|signup|sign_up|registered|captured|first_seen|^date$|^time)"
)


# ----------------------------------------------------------------------------- target


def coerce_target(
    series: pd.Series,
    positive_labels: Sequence[str],
    negative_labels: Sequence[str],
) -> np.ndarray:
    """Map an outcome column to 1.0 / 0.0 (NaN where missing).

    Accepts 1/0, yes/no, true/false, won/lost and the configured labels (case-insensitive).
    Anything else raises :class:`SchemaError` naming the column and the offending values.

    Example
    -------
    >>> coerce_target(pd.Series(["Yes", "no", None], name="converted"), ["yes"], ["no"])
    array([ 1.,  0., nan])
    """
    name = series.name
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float).to_numpy()
    positive = {str(v).strip().lower() for v in positive_labels}
    negative = {str(v).strip().lower() for v in negative_labels}
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.astype(float)
        present = values.dropna()
        bad = present[~present.isin([0.0, 1.0])]
        if not bad.empty:
            raise SchemaError(
                f"target column {name!r} must be 0/1, yes/no, true/false or won/lost; it also "
                f"holds {shown(sorted(bad.unique()))} at rows {file_rows(bad.index)}"
            )
        return values.to_numpy()
    text = series.astype(object).where(series.isna(), series.astype(str).str.strip().str.lower())
    text = text.mask(text == "")
    mapped = pd.Series(np.nan, index=series.index)
    mapped[text.isin(positive)] = 1.0
    mapped[text.isin(negative)] = 0.0
    bad = text.notna() & mapped.isna()
    if bad.any():
        offending = series[bad]
        raise SchemaError(
            f"target column {name!r} has values that are neither a conversion nor a loss: "
            f"{shown(offending.astype(str).unique())} at rows {file_rows(offending.index)}. "
            "Recognised: 1/0, yes/no, true/false, won/lost; add others with "
            "positive_labels / negative_labels in leadscore.toml."
        )
    return mapped.to_numpy()


# ----------------------------------------------------------------------------- roles


def infer_target(frame: pd.DataFrame) -> str | None:
    """Return the column whose name says it is the outcome (converted, won, target, …)."""
    by_name = {normalise_name(c): c for c in frame.columns}
    for candidate in TARGET_NAMES:
        if candidate in by_name:
            return by_name[candidate]
    return None


def is_id_like(series: pd.Series) -> bool:
    """Unique per row and either text or an integer column named like an id / number / key."""
    values = series.dropna()
    if len(values) < 2 or len(values) < len(series) or values.nunique() < len(values):
        return False
    if is_text(series):
        return True
    if pd.api.types.is_integer_dtype(series.dtype) or (
        pd.api.types.is_float_dtype(series.dtype) and bool((values == values.round()).all())
    ):
        return bool(_ID_NAME.search(normalise_name(str(series.name))))
    return False


def infer_id(frame: pd.DataFrame, exclude: Iterable[str] = ()) -> str | None:
    """The first id-like column, preferring one named like an id."""
    skip = set(exclude)
    candidates = [c for c in frame.columns if c not in skip and is_id_like(frame[c])]
    named = [c for c in candidates if _ID_NAME.search(normalise_name(str(c)))]
    ordered = named + [c for c in candidates if c not in named]
    return ordered[0] if ordered else None


def looks_like_creation_time(name: str) -> bool:
    """Whether a column's name says it holds when the lead was created (created_at, …)."""
    return bool(_CREATED_NAME.search(normalise_name(name)))


# ----------------------------------------------------------------------------- sidecar


def sidecar_path(table_path: Path) -> Path:
    """Where ``leadscore features`` describes a lead table it wrote: ``<stem>.features.json``."""
    return table_path.with_name(table_path.name.split(".")[0] + ".features.json")


def sidecar_roles(table_path: Path) -> Roles | None:
    """Roles written next to a lead table by ``leadscore features``, if any."""
    path = sidecar_path(table_path)
    if not path.is_file():
        return None
    try:
        described = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    return Roles(
        target=described.get("target"),
        id=described.get("id"),
        point_in_time=list(described.get("point_in_time", [])),
        weight=described.get("weight"),
    )
