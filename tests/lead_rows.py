"""A demo lead row as the ``attributes`` of a JSON request body (the scoring API's tests)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def attributes(row: pd.Series) -> dict[str, Any]:
    """A lead row as a JSON body's attributes: timestamps as ISO 8601, numpy scalars as
    Python numbers, NaN as null, the lead id left out."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == "lead_id":
            continue
        if isinstance(value, pd.Timestamp):
            value = value.isoformat()
        elif isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and np.isnan(value):
            value = None
        out[str(key)] = value
    return out
