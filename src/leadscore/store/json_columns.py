"""The JSON columns' text: what the store writes (plain JSON, never NaN) and how it reads
it back (the engine's ``json_serializer`` and ``json_deserializer``)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic_core import from_json


def _plain(value: Any) -> Any:
    """``value`` in plain JSON types: NaN and infinity as ``None`` (PostgreSQL rejects
    them), numpy scalars unwrapped, dates as ISO 8601, dataclasses as dicts."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {_key(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return _plain(float(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return _plain(value.item())  # numpy scalars (the store does not import numpy)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _key(key: Any) -> str:
    """A mapping key as ``json.dumps`` writes it (``True`` → ``"true"``), else as text."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    return str(key)


def dumps_json(value: Any) -> str:
    """JSON text for the JSON columns (see :func:`_plain` for what is converted).

    Example
    -------
    >>> dumps_json({"when": date(2025, 1, 2), "x": float("nan")})
    '{"when": "2025-01-02", "x": null}'
    """
    try:  # already plain, as nearly every value is: json's C encoder alone
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps(_plain(value), allow_nan=False)


def loads_json(text: str | bytes) -> Any:
    """A JSON column's value from its text: pydantic-core's parser, twice as fast as the
    standard library's on the stored reasons (which every read of a score decodes).

    Example
    -------
    >>> loads_json('{"points": 12.5, "tags": ["a"]}')
    {'points': 12.5, 'tags': ['a']}
    """
    return from_json(text)
