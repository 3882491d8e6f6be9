"""What the monitoring functions share about their input frames: column checks, UTC
times, periods and score bands.

Example
-------
>>> band_label(70, 10), band_label(90, 10)
('70–79', '90–100')
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from leadscore.errors import SchemaError

#: the periods the monitoring functions group by, as pandas periods
PERIODS = {"day": "D", "week": "W", "month": "M"}


def require_columns(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    """Raise :class:`SchemaError` naming the first of ``columns`` missing from ``frame``
    (``name`` says which table it is).

    Example
    -------
    >>> require_columns(pd.DataFrame({"lead_id": []}), ["lead_id", "score"], "scores")
    Traceback (most recent call last):
    ...
    leadscore.errors.SchemaError: scores: missing column 'score' (has: lead_id)
    """
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"{name} must be a pandas DataFrame, not {type(frame).__name__}")
    for column in columns:
        if column not in frame.columns:
            has = ", ".join(map(str, frame.columns)) or "no columns"
            raise SchemaError(f"{name}: missing column {column!r} (has: {has})")


def utc_times(values: pd.Series, column: str) -> pd.Series:
    """The time column ``column`` as ``datetime64[ns, UTC]`` (naive times read as UTC); a
    clear error for anything that is not a time.

    Example
    -------
    >>> utc_times(pd.Series(["2026-05-04 09:30"]), "scored_at").dtype
    datetime64[ns, UTC]
    """
    try:
        times = pd.to_datetime(values, utc=True)
    except (TypeError, ValueError) as error:
        raise SchemaError(f"column {column!r} must hold times: {error}") from None
    if times.isna().any():
        raise SchemaError(f"column {column!r} has {int(times.isna().sum())} missing times")
    return times.dt.as_unit("ns")


def period_start(times: pd.Series, freq: str) -> pd.Series:
    """The start (UTC) of the period each tz-aware time falls in: ``freq`` is ``"day"``,
    ``"week"`` (from Monday) or ``"month"``.

    Example
    -------
    >>> period_start(pd.Series([pd.Timestamp("2026-05-07 15:00", tz="UTC")]), "week")[0]
    Timestamp('2026-05-04 00:00:00+0000', tz='UTC')
    """
    if freq not in PERIODS:
        raise ValueError(f"freq must be one of {', '.join(PERIODS)}, not {freq!r}")
    naive = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return naive.dt.to_period(PERIODS[freq]).dt.start_time.dt.tz_localize("UTC").dt.as_unit("ns")


def band_label(low: int, width: int) -> str:
    """A score band as people read it: ``70–79``; 100 joins the top band."""
    return f"{low}–{low + width - 1}" if low + width < 100 else f"{low}–100"


def plain(value: Any) -> Any:
    """A cell as a JSON value: numpy scalars unwrapped, times and dates as ISO text, gaps
    (NaN, NaT) as None, anything else unknown as text.

    Example
    -------
    >>> plain(np.int64(3)), plain(float("nan")), plain(pd.Timestamp("2026-05-04", tz="UTC"))
    (3, None, '2026-05-04T00:00:00+00:00')
    """
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, date):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    return str(value)
