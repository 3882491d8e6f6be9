"""The one event schema, and one file's rows mapped onto it.

Tracking exports name the same things differently (``distinct_id``, ``client_id``,
``clientId``, ``anonymousId`` …; epoch seconds, milliseconds or ISO 8601).
:func:`normalise` maps a file's columns onto :data:`EVENT_COLUMNS` by their
:data:`ALIASES`, reads the times as naive UTC, keeps text as categoricals, and splits off
the rows that cannot be used (no lead id, no event name, a time that cannot be read or
lies outside 2000–2100) with the reason, file and line for the quarantine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from leadscore.errors import DataError

#: The event schema every source is mapped onto. ``timestamp`` is UTC (tz-naive).
EVENT_COLUMNS: tuple[str, ...] = (
    "lead_id", "timestamp", "event", "event_id", "url", "page_title", "referrer",
    "utm_source", "utm_medium", "utm_campaign", "user_agent", "ip", "tz_offset_minutes",
    "timezone", "device_type", "os", "browser", "country",
)  # fmt: skip

#: Names used by common trackers (Mixpanel, Segment, GA exports, server logs), normalised
#: to lower case without punctuation, for each schema column.
ALIASES: dict[str, tuple[str, ...]] = {
    "lead_id": (
        "lead_id", "leadid", "distinct_id", "distinctid", "client_id", "clientid", "user_id",
        "userid", "anonymous_id", "anonymousid", "visitor_id", "visitorid", "cookie_id",
        "device_id", "person_id", "contact_id",
    ),
    "timestamp": (
        "timestamp", "time", "ts", "event_time", "eventtime", "event_timestamp", "occurred_at",
        "received_at", "sent_at", "datetime", "date",
    ),
    "event": ("event", "event_name", "eventname", "name", "type", "action", "event_type"),
    "event_id": ("event_id", "eventid", "insert_id", "insertid", "message_id", "messageid", "uuid"),
    "url": (
        "url", "page_url", "pageurl", "current_url", "currenturl", "page_location", "page",
        "location", "href",
    ),
    "page_title": ("page_title", "pagetitle", "title"),
    "referrer": ("referrer", "referer", "page_referrer", "document_referrer", "initial_referrer"),
    "utm_source": ("utm_source", "utmsource", "campaign_source"),
    "utm_medium": ("utm_medium", "utmmedium", "campaign_medium"),
    "utm_campaign": ("utm_campaign", "utmcampaign", "campaign_name", "campaign"),
    "user_agent": ("user_agent", "useragent", "ua", "http_user_agent"),
    "ip": ("ip", "ip_address", "ipaddress", "client_ip", "clientip", "remote_addr", "context_ip"),
    "tz_offset_minutes": (
        "tz_offset_minutes", "tz_offset", "timezone_offset", "utc_offset", "utcoffset",
    ),
    "timezone": ("timezone", "time_zone", "tz"),
    "device_type": ("device_type", "devicetype", "device", "device_category"),
    "os": ("os", "operating_system", "platform"),
    "browser": ("browser", "browser_name"),
    "country": ("country", "country_code", "countrycode", "mp_country_code", "geo_country"),
}  # fmt: skip

REQUIRED = ("lead_id", "timestamp", "event")

#: text columns kept as categoricals (the event id, unique per event, stays plain text)
TEXT_COLUMNS = tuple(
    c for c in EVENT_COLUMNS if c not in ("timestamp", "tz_offset_minutes", "event_id")
)
# Epoch numbers: the unit is read off the magnitude of a time between 2000 and 2100.
_EPOCH_UNITS = (("s", 9.4e8, 4.2e9), ("ms", 9.4e11, 4.2e12), ("us", 9.4e14, 4.2e15))
_LATEST = pd.Timestamp("2100-01-01")
_EARLIEST = pd.Timestamp("2000-01-01")


def _key(name: str) -> str:
    # "$current_url" → "current_url", "properties.distinct_id" → "distinct_id"
    name = str(name).split(".")[-1]
    return re.sub(r"[^0-9a-z_]+", "", name.lower().replace(" ", "_").replace("-", "_"))


_LOOKUP = {alias: column for column, names in ALIASES.items() for alias in names}


def map_columns(columns: Iterable[str]) -> dict[str, str]:
    """Source column → schema column, first match wins per schema column."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        target = _LOOKUP.get(_key(column))
        if target is not None and target not in taken:
            mapping[column] = target
            taken.add(target)
    return mapping


def parse_timestamps(values: pd.Series, where: str) -> pd.Series:
    """Read epoch seconds / milliseconds / microseconds or ISO 8601 as naive UTC.

    Unreadable values become NaT (the caller quarantines them). Numbers whose magnitude
    fits no epoch unit between 2000 and 2100 raise :class:`DataError` naming the column.
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = pd.to_datetime(values, utc=True)
        return parsed.dt.tz_localize(None).astype("datetime64[ns]")
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().mean() > 0.5:
        typical = float(numbers.median())
        for unit, low, high in _EPOCH_UNITS:
            if low <= typical <= high:
                parsed = pd.to_datetime(numbers, unit=unit, utc=True, errors="coerce")
                return parsed.dt.tz_localize(None).astype("datetime64[ns]")
        raise DataError(
            f"{where} holds numbers like {typical:.0f} that are not a time: as epoch seconds, "
            "milliseconds or microseconds they fall outside 2000–2100. Give times as epoch "
            "seconds/milliseconds or ISO 8601 text (2026-01-31T14:05:00Z)."
        )
    text = values.astype("string")
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    if parsed.isna().mean() > 0.5 * text.notna().mean():
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="mixed")
    return parsed.dt.tz_localize(None).astype("datetime64[ns]")


def schema_mapping(columns: list[str], path: str) -> dict[str, str]:
    """:func:`map_columns`, or a :class:`DataError` naming what a file lacks."""
    mapping = map_columns(columns)
    missing = [c for c in REQUIRED if c not in mapping.values()]
    if missing:
        looked = "; ".join(f"{m}: {', '.join(ALIASES[m][:6])}, …" for m in missing)
        raise DataError(
            f"unknown column layout in {path}: no column for {', '.join(missing)} "
            f"(looked for {looked}). Columns found: {list(columns)[:20]}"
        )
    return mapping


def quarantine_reasons(
    lead_missing: np.ndarray, event_missing: np.ndarray, times: np.ndarray
) -> np.ndarray:
    """Why each row cannot be used (None where it can): no lead id, a time outside
    2000–2100, a time that cannot be read, no event name — the first that applies.
    ``times`` are int64 nanoseconds, NaT for unreadable ones."""
    reasons = np.full(len(times), None, dtype=object)
    reasons[event_missing] = "no event name"
    unreadable = times == np.iinfo(np.int64).min
    reasons[unreadable] = "time not readable"
    reasons[~unreadable & ((times < _EARLIEST.value) | (times >= _LATEST.value))] = (
        "time outside 2000–2100"
    )
    reasons[lead_missing] = "no lead id"
    return reasons


def normalise(
    frame: pd.DataFrame, path: str, lines: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Map one file's columns onto the schema; split off unusable rows with reasons."""
    mapping = schema_mapping(list(frame.columns), path)
    out = pd.DataFrame(index=frame.index)
    for source, target in mapping.items():
        out[target] = frame[source]
    for column in EVENT_COLUMNS:
        if column not in out.columns:
            out[column] = _empty_column(column, len(out), out.index)
    out = out[list(EVENT_COLUMNS)]
    out["timestamp"] = parse_timestamps(out["timestamp"], f"time column of {path}")
    for column in TEXT_COLUMNS:
        out[column] = as_text_category(out[column])
    event_id = out["event_id"]
    if event_id.dtype != "str":
        out["event_id"] = event_id.astype("str").where(event_id.notna())
    out["tz_offset_minutes"] = pd.to_numeric(out["tz_offset_minutes"], errors="coerce")
    if "referrer" in mapping.values():
        # The file records referrers: an empty one means a direct visit. Where the column is
        # absent altogether, the source stays unknown rather than looking "direct".
        referrer = out["referrer"]
        if "" not in referrer.cat.categories:
            referrer = referrer.cat.add_categories([""])
        out["referrer"] = referrer.fillna("")

    reasons = quarantine_reasons(
        out["lead_id"].isna().to_numpy(),
        out["event"].isna().to_numpy(),
        out["timestamp"].to_numpy("datetime64[ns]").view(np.int64),
    )
    bad = pd.notna(reasons)
    raw = raw_rows(frame.loc[bad]) if bad.any() else []
    quarantined = pd.DataFrame(
        {"file": path, "line": lines[bad], "reason": reasons[bad], "raw": raw}
    )
    if not bad.any():
        return out.reset_index(drop=True), quarantined  # the common case: no copy
    return out.loc[~bad].reset_index(drop=True), quarantined


def _empty_column(column: str, n: int, index: pd.Index) -> pd.Series:
    """An all-missing schema column, built cheaply in its final type."""
    if column == "tz_offset_minutes":
        return pd.Series(np.full(n, np.nan), index=index)
    if column == "timestamp":
        return pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    empty = pd.Categorical.from_codes(
        np.full(n, -1, np.int8), categories=pd.Index([], dtype=object)
    )
    return pd.Series(empty, index=index)


def as_text_category(values: pd.Series) -> pd.Series:
    """Text as a pandas categorical: stripped, empty → missing, numbers → text.

    Event columns repeat a few thousand distinct values millions of times; as categories
    they take a fraction of the memory and every string operation runs once per value.
    """
    if not isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype("category")
    lookup, uniques = text_categories(values.cat.categories)
    codes = lookup[values.cat.codes.to_numpy()]
    result = pd.Categorical.from_codes(codes, categories=uniques, validate=False)
    return pd.Series(result, index=values.index)


def text_categories(categories: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """Distinct values → their text (:func:`as_text_category`'s rules): ``(lookup,
    uniques)`` where ``lookup[code]`` is the new code of old code ``code`` and
    ``lookup[-1]`` is -1 (missing stays missing)."""
    text = pd.Index(categories.astype(str)).str.strip()
    if categories.dtype.kind in "fc":  # 12345.0 read from JSON numbers → "12345"
        text = pd.Index([t[:-2] if t.endswith(".0") else t for t in text])
    codes, uniques = pd.factorize(text)
    uniques = pd.Index(uniques, dtype=object)
    empty = np.flatnonzero(uniques == "")
    if len(empty):
        # drop the empty text from the values, shifting the codes after it down
        codes = np.where(codes == empty[0], -1, codes - (codes > empty[0]))
        uniques = uniques.delete(empty[0])
    return np.append(codes, -1), uniques


def raw_rows(frame: pd.DataFrame) -> list[str]:
    """Each row as JSON text, cut at 500 characters: the quarantine's ``raw`` column."""
    return [json.dumps(r, default=str)[:500] for r in frame.to_dict("records")]
