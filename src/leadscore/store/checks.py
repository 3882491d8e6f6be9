"""Argument checks and value conversions the store's repositories share."""

from __future__ import annotations

import json
from typing import Any

from leadscore.store.errors import StoreError
from leadscore.store.json_columns import dumps_json

#: rows per multi-row INSERT or IN list (SQLite allows 32,766 bound parameters per statement)
CHUNK = 500


def check_lead_id(lead_id: Any) -> None:
    """Refuse a lead id that is not non-empty text."""
    if not isinstance(lead_id, str) or not lead_id.strip():
        raise StoreError(f"a lead id must be non-empty text, not {lead_id!r}")


def as_json(value: Any) -> Any:
    """``value`` as it comes back from a JSON column (NaN → None, dates → text, …).

    Example
    -------
    >>> as_json({"x": float("nan"), "y": (1, 2)})
    {'x': None, 'y': [1, 2]}
    """
    return None if value is None else json.loads(dumps_json(value))


def clamp_limit(limit: int) -> int:
    """A row limit as SQL takes it: a whole number, never negative."""
    return max(0, int(limit))
