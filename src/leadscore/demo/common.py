"""What both demo generators share: argument checks, arrivals, the logistic link, fast draws.

The lead table (:mod:`leadscore.demo.leads`) and the web funnel (:mod:`leadscore.demo.events`)
validate their arguments the same way, spread leads over the same daily and weekly curve, and
draw outcomes from a logistic model whose intercept can be solved for a wanted positive
rate. Keeping these in one place keeps the two demos' arrival patterns and error messages
alike. The event generator's vectorised draws (categories by inverse CDF, one owner per
item) and its millisecond clock live here too, because every part of the funnel uses them.

Nothing here draws from a random stream of its own: callers pass their generator, so the
order of the draws (and with it every seeded output) stays where the generators define it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import pandas as pd

from leadscore.errors import DataError

__all__ = [
    "HOUR_WEIGHTS",
    "MS_DAY",
    "MS_HOUR",
    "MS_MINUTE",
    "SESSION_GAP_MS",
    "WEEKEND_VOLUME",
    "check_count",
    "check_flag",
    "check_rate",
    "check_seed",
    "check_start",
    "day_weights",
    "draw",
    "expand",
    "sigmoid",
    "solve_intercept",
    "utc",
]

# Relative lead volume by hour of day: quiet nights, a morning ramp, a lunch dip, busy evenings.
HOUR_WEIGHTS = np.array(
    [1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.0, 2.0, 3.5, 5.0, 6.0, 6.2,
     5.6, 5.5, 5.8, 6.0, 5.5, 4.8, 4.2, 4.0, 3.8, 3.3, 2.5, 1.6]
)  # fmt: skip
WEEKEND_VOLUME = (0.45, 0.40)  # Saturday, Sunday relative to a weekday

# The event generator's clock: integer milliseconds since the epoch.
MS_MINUTE = 60_000
MS_HOUR = 60 * MS_MINUTE
MS_DAY = 24 * MS_HOUR
SESSION_GAP_MS = 30 * MS_MINUTE


def day_weights(start: pd.Timestamp, days: int) -> np.ndarray:
    """Relative lead volume of each of ``days`` days from ``start``: weekends quieter
    (:data:`WEEKEND_VOLUME`), and 30 % growth over the period."""
    day_index = np.arange(days)
    weekday = (start.day_of_week + day_index) % 7
    return np.where(
        weekday == 5, WEEKEND_VOLUME[0], np.where(weekday == 6, WEEKEND_VOLUME[1], 1.0)
    ) * (1.0 + 0.3 * day_index / days)


def utc(ms: np.ndarray) -> pd.Series:
    """Milliseconds since the epoch as tz-aware UTC timestamps (nanosecond resolution)."""
    return (
        pd.Series(ms.astype("datetime64[ms]")).dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
    )


# --- the logistic link -----------------------------------------------------------------------


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    """The logistic function, without overflow for large ``|x|``."""
    # exp(-logaddexp(0, -x)) == 1 / (1 + exp(-x)) without overflow for large |x|.
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=float)))


def solve_intercept(logit: np.ndarray, rate: float) -> float:
    """Intercept whose mean sigmoid over ``logit`` equals ``rate`` (bisection; it is monotone)."""
    low, high = -40.0 - float(logit.max()), 40.0 - float(logit.min())
    for _ in range(100):
        mid = 0.5 * (low + high)
        if float(sigmoid(mid + logit).mean()) < rate:
            low = mid
        else:
            high = mid
        if high - low < 1e-12:
            break
    return 0.5 * (low + high)


# --- vectorised draws (event generator) ------------------------------------------------------


def draw(rng: np.random.Generator, n: int, shares: Sequence[float]) -> np.ndarray:
    """Codes 0..k-1 drawn by share (inverse CDF: fast for millions of draws)."""
    p = np.cumsum(np.asarray(shares, dtype=float))
    return np.minimum(np.searchsorted(p / p[-1], rng.random(n), side="right"), p.size - 1)


def expand(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Owner index and position within the owner of ``sizes.sum()`` items."""
    owner = np.repeat(np.arange(sizes.size), sizes)
    first = np.cumsum(sizes) - sizes
    return owner, np.arange(owner.size) - first[owner]


# --- argument checks -------------------------------------------------------------------------


def check_count(name: str, value: object) -> int:
    """``value`` as an ``int`` if it is an integer >= 1 (not a bool), else a DataError."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise DataError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def check_seed(seed: object) -> int:
    """``seed`` as an ``int`` if it is a non-negative integer (not a bool), else a DataError."""
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def check_flag(name: str, value: object) -> bool:
    """``value`` as a ``bool`` if it is one (Python or NumPy), else a DataError."""
    if not isinstance(value, bool | np.bool_):
        raise DataError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_rate(rate: object) -> float | None:
    """``None``, or ``rate`` as a ``float`` strictly between 0 and 1, else a DataError."""
    if rate is None:
        return None
    if (
        isinstance(rate, bool)
        or not isinstance(rate, Real)
        or not math.isfinite(float(rate))
        or not 0.0 < float(rate) < 1.0
    ):
        raise DataError(f"positive_rate must be a number strictly between 0 and 1, got {rate!r}")
    return float(rate)


def check_start(start: object) -> pd.Timestamp:
    """Midnight of the (naive, wall-clock) day of ``start``, else a DataError."""
    try:
        stamp = pd.Timestamp(start)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise DataError(f"start must be a date such as '2026-01-05', got {start!r}") from exc
    if stamp is pd.NaT or pd.isna(stamp):
        raise DataError(f"start must be a date such as '2026-01-05', got {start!r}")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)  # keep the wall-clock date; the table is naive
    return stamp.normalize()
