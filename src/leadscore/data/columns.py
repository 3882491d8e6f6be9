"""One column at a time: its name normalised, placeholders cleaned, its type read.

:func:`standardise_column` gives a raw column its kind — number, date or category —
turning placeholders ("Select", empty strings) into missing values and numbers stored
as text into numbers, and refusing (or, if asked, setting to missing) the few
non-numbers in a column of numbers. The message helpers name values and file rows the
same way everywhere in the data layer.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from leadscore.errors import SchemaError

ColumnKind = Literal["numeric", "categorical", "datetime"]

_DATE_PATTERNS = (
    re.compile(
        r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
    ),
    re.compile(r"^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}( \d{1,2}:\d{2}(:\d{2})?( ?[AaPp][Mm])?)?$"),
)
#: a text column whose non-missing values are at least this share numbers is "numeric with junk"
_MOSTLY_NUMERIC = 0.9
_MAX_SHOWN = 5


def normalise_name(name: str) -> str:
    """``"Prospect ID"`` → ``"prospect_id"``: lower case, runs of non-alphanumerics → ``_``."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")


def is_text(series: pd.Series) -> bool:
    """Whether ``series`` holds text (object or string dtype)."""
    return series.dtype == object or pd.api.types.is_string_dtype(series.dtype)


def shown(values: Iterable[Any]) -> str:
    """The first few values for a message, and how many more there are."""
    values = [v.item() if isinstance(v, np.generic) else v for v in values]
    shown = ", ".join(repr(v) for v in values[:_MAX_SHOWN])
    return shown + (f", … ({len(values) - _MAX_SHOWN} more)" if len(values) > _MAX_SHOWN else "")


def file_rows(index: Iterable[Any]) -> str:
    """File row numbers for error messages: data row i is line i + 2 of a CSV with a header."""
    rows = [int(i) + 2 if isinstance(i, (int, np.integer)) else i for i in index]
    return shown(rows)


def missing_column_error(missing: Sequence[str], available: Sequence[str], what: str) -> str:
    """A message naming missing columns, with close matches among the available ones."""
    parts = []
    for name in missing:
        close = difflib.get_close_matches(str(name), [str(a) for a in available], n=2)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        parts.append(f"{name!r}{hint}")
    return (
        f"{what} {'column' if len(missing) == 1 else 'columns'} not found: {', '.join(parts)}. "
        f"Columns in the data: {shown(available) if len(available) > 12 else list(available)}"
    )


def clean_text(series: pd.Series, missing_values: Sequence[str]) -> pd.Series:
    """Strip whitespace and turn placeholder strings into missing values."""
    stripped = series.astype(object).where(series.isna(), series.astype(str).str.strip())
    return stripped.mask(stripped.isin(list(missing_values)))


def _looks_like_dates(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(500)
    if sample.empty:
        return False
    hits = sum(any(p.match(v) for p in _DATE_PATTERNS) for v in sample)
    return hits >= 0.95 * len(sample)


def to_datetime(series: pd.Series) -> pd.Series:
    """Parse to naive UTC datetimes; unparsable values become NaT."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        parsed = series
    else:
        text = series.astype(str).where(series.notna())
        iso = text.dropna().head(50).str.match(_DATE_PATTERNS[0]).all()
        parsed = pd.to_datetime(
            text, errors="coerce", utc=True, format="ISO8601" if iso else "mixed"
        )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


def standardise_column(
    series: pd.Series,
    missing_values: Sequence[str],
    on_bad_number: Literal["error", "missing"] = "error",
) -> tuple[pd.Series, ColumnKind, str | None]:
    """Give one column its type. Returns ``(column, kind, note)``.

    Raises :class:`SchemaError` for a text column that is mostly numbers with a few
    non-numbers, unless ``on_bad_number="missing"`` (then they become missing, noted).
    """
    name = series.name
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float), "numeric", None
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.astype(float), "numeric", None
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return to_datetime(series), "datetime", None
    if not is_text(series):
        return clean_text(series.astype(str), missing_values), "categorical", None

    text = clean_text(series, missing_values)
    present = text.notna()
    n_present = int(present.sum())
    if n_present == 0:
        return text, "categorical", None
    numbers = pd.to_numeric(text, errors="coerce")
    bad = present & numbers.isna()
    n_bad = int(bad.sum())
    if n_bad == 0:
        return numbers.astype(float), "numeric", None
    if n_present - n_bad >= _MOSTLY_NUMERIC * n_present:
        bad_values = text[bad]
        detail = (
            f"column {name!r} holds numbers, but {n_bad} of its {n_present} values are not "
            f"numbers: {shown(bad_values.unique())} at rows {file_rows(bad_values.index)}"
        )
        if on_bad_number == "error":
            raise SchemaError(
                f"{detail}. Fix those values, exclude the column (--exclude {name!r}), or "
                "treat them as missing (--bad-numbers missing)."
            )
        return numbers.astype(float), "numeric", detail + "; they were treated as missing"
    if _looks_like_dates(text):
        parsed = to_datetime(text)
        unparsed = present & parsed.isna()
        if unparsed.sum() <= 0.05 * n_present:
            note = None
            if unparsed.any():
                note = (
                    f"column {name!r}: {int(unparsed.sum())} values are not dates "
                    f"({shown(text[unparsed].unique())}); treated as missing"
                )
            return parsed, "datetime", note
    return text, "categorical", None
