"""The statistics of a conversion rate: the outcome as 0/1, and the Wilson score interval.

Every conversion table and the ideal customer read the outcome through :func:`outcomes`
(which refuses anything but 0/1), and every rate shown with a range gets it from
:func:`wilson_interval`.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np

from leadscore.errors import DataError


def wilson_interval(
    converted: Any, leads: Any, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a conversion rate ``converted / leads``.

    Unlike the normal ("Wald") interval it stays inside 0–1 and is honest for small
    groups and rates near 0 or 1. Where ``leads`` is 0 both bounds are NaN.

    Parameters
    ----------
    converted:
        Conversions per group (scalar or array).
    leads:
        Leads per group, same shape.
    confidence:
        Coverage of the interval, strictly between 0 and 1.

    Example
    -------
    >>> low, high = wilson_interval(10, 100)
    >>> round(float(low), 4), round(float(high), 4)
    (0.0552, 0.1744)
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    k = np.asarray(converted, dtype=float)
    n = np.asarray(leads, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    # the interval always holds its own rate (rounding can otherwise miss 0 or 1 by 1e-17)
    low = np.clip(np.minimum(centre - half, p), 0.0, 1.0)
    high = np.clip(np.maximum(centre + half, p), 0.0, 1.0)
    return low, high


def outcomes(y: Any, n: int | None = None) -> np.ndarray:
    """The outcome as a 0/1 integer array; raises :class:`DataError` for anything else.

    Example
    -------
    >>> outcomes([True, False, 1]).tolist()
    [1, 0, 1]
    """
    values = np.asarray(y)
    if values.ndim != 1:
        raise DataError(f"the outcome must be one-dimensional, got shape {values.shape}")
    if n is not None and len(values) != n:
        raise DataError(f"the outcome has {len(values)} values for {n} leads")
    try:
        numbers = values.astype(float)
    except (TypeError, ValueError):
        raise DataError("the outcome must hold 0/1 (or True/False) values") from None
    if not np.isin(numbers, (0.0, 1.0)).all():
        raise DataError("the outcome must hold only 0 and 1 (no missing values)")
    return numbers.astype(np.int64)
