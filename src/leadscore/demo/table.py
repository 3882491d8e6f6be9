"""The demo event table: its columns and event names, and how it is put together.

The funnel (:mod:`leadscore.demo.funnel`) generates events in batches — page views,
milestones, the post-outcome events of converters — as integer codes into the catalogues
(pages, referrers, user agents, IP addresses). :func:`assemble` turns them into one table
sorted by time, with the columns a tracking export has (:data:`EVENT_COLUMNS`): random
version-4 event ids, lead ids, UTC timestamps, and the repetitive text columns as pandas
categoricals over those catalogues, so ten million events take about 1 GB and every string
operation of a feature pipeline runs once per distinct value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from leadscore.demo.common import utc
from leadscore.demo.population import OffsetGrid
from leadscore.demo.site import PATHS, SITE, TITLES
from leadscore.demo.traffic import REFERRERS, UTM_CAMPAIGNS, UTM_MEDIUMS, UTM_SOURCES

__all__ = [
    "EVENT_COLUMNS",
    "EVENT_NAMES",
    "POST_OUTCOME_EVENTS",
    "Part",
    "assemble",
    "lead_ids",
    "milestone_events",
]

EVENT_COLUMNS: tuple[str, ...] = (
    "event_id", "lead_id", "timestamp", "event", "url", "page_title", "referrer",
    "utm_source", "utm_medium", "utm_campaign", "user_agent", "ip", "tz_offset_minutes",
)  # fmt: skip
"""Columns of the event table (and keys of every JSON line), in order."""

EVENT_NAMES: tuple[str, ...] = (
    "page_view", "signup", "demo_request", "download_whitepaper", "webinar_registered",
    "onboarding_started", "invoice_paid",
)  # fmt: skip
"""Event names (the categories of the ``event`` column)."""

POST_OUTCOME_EVENTS: tuple[str, ...] = ("onboarding_started", "invoice_paid")
"""Events only converters have, after ``outcome_at`` (with page views of ``/app/`` URLs)."""


def milestone_events(kind_names: list[str]) -> np.ndarray:
    """Event code of each milestone kind."""
    return np.array([EVENT_NAMES.index(name) for name in kind_names], dtype=np.int8)


@dataclass
class Part:
    """Columns of a batch of events as codes (-1: missing); scalars apply to every row."""

    lead: np.ndarray
    time: np.ndarray
    event: int | np.ndarray
    path: np.ndarray | int
    url: np.ndarray | int
    referrer: np.ndarray | int
    ua: np.ndarray | int
    ip: np.ndarray | int
    client: np.ndarray | None  # False: server-side event (no UTC offset); None: all client


def assemble(
    rng: np.random.Generator,
    parts: list[Part],
    pv_lead: np.ndarray,
    utm_rows: np.ndarray,
    utm: tuple[np.ndarray, np.ndarray, np.ndarray],
    zone: np.ndarray,
    has_tz: np.ndarray,
    grid: OffsetGrid,
    landing_urls: np.ndarray,
    ip_strings: pd.Index,
    ua_strings: list[str],
    first_id: int,
    width: int,
    n: int,
) -> pd.DataFrame:
    """One table of events sorted by time (ties keep the generation order)."""

    def column(name: str, dtype: type) -> np.ndarray:
        return np.concatenate(
            [np.broadcast_to(np.asarray(getattr(p, name), dtype=dtype), p.lead.shape)
             for p in parts]
        )  # fmt: skip

    time = column("time", np.int64)
    order = np.argsort(time, kind="stable")
    time = time[order]
    lead = column("lead", np.int32)[order]
    # UTM parameters live on the landing page view only (the first part, in its own order).
    utm_codes = []
    tagged = utm[0] >= 0
    for values in utm:
        codes = np.full(pv_lead.size, -1, dtype=np.int8)
        codes[utm_rows] = values[tagged]
        filler = np.full(time.size - pv_lead.size, -1, dtype=np.int8)
        utm_codes.append(np.concatenate([codes, filler])[order])
    client = np.concatenate(
        [np.ones(p.lead.size, dtype=bool) if p.client is None else p.client for p in parts]
    )[order]
    offset = grid.at(zone[lead], time).astype(np.float64)
    offset[~(client & has_tz[lead])] = np.nan

    urls = pd.Index([SITE + p for p in PATHS] + list(landing_urls), dtype="str")
    referrers = urls.append(pd.Index(list(REFERRERS), dtype="str"))
    ids = lead_ids(first_id, n, width)
    return pd.DataFrame(
        {
            "event_id": _event_ids(rng, time.size),
            "lead_id": pd.Series(pa.array(ids).take(pa.array(lead)), dtype="str"),
            "timestamp": utc(time),
            "event": _categorical(column("event", np.int8)[order], EVENT_NAMES),
            "url": _categorical(column("url", np.int32)[order], urls),
            "page_title": _categorical(column("path", np.int16)[order], TITLES),
            "referrer": _categorical(column("referrer", np.int32)[order], referrers),
            "utm_source": _categorical(utm_codes[0], UTM_SOURCES),
            "utm_medium": _categorical(utm_codes[1], UTM_MEDIUMS),
            "utm_campaign": _categorical(utm_codes[2], UTM_CAMPAIGNS),
            "user_agent": _categorical(column("ua", np.int16)[order], ua_strings),
            "ip": _categorical(column("ip", np.int32)[order], ip_strings),
            "tz_offset_minutes": offset,
        }
    )


def _event_ids(rng: np.random.Generator, m: int) -> pd.Series:
    """Random version-4 UUID strings (``8-4-4-4-12`` hex digits), without a Python loop."""
    # Each random byte becomes two hex digits in one lookup (byte → two ASCII digits as
    # uint16), 18 bytes per id give its 36 characters; then the dashes, the version digit
    # and the variant digit overwrite their positions.
    pairs = np.array([f"{b:02x}".encode() for b in range(256)], dtype="S2").view(np.uint16)
    data = pairs[np.frombuffer(rng.bytes(18 * m), dtype=np.uint8).reshape(m, 18)].view(np.uint8)
    data[:, [8, 13, 18, 23]] = ord("-")
    data[:, 14] = ord("4")
    data[:, 19] = np.frombuffer(b"89ab", dtype=np.uint8)[data[:, 19] & 3]
    offsets = np.arange(0, 36 * (m + 1), 36, dtype=np.int64)
    array = pa.Array.from_buffers(
        pa.large_string(), m, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    return pd.Series(array.cast(pa.string()) if 36 * m < 2**31 else array, dtype="str")


def _categorical(codes: np.ndarray, categories: Sequence[str] | pd.Index) -> pd.Categorical:
    """A categorical over ``categories`` from integer codes (-1: missing)."""
    index = categories if isinstance(categories, pd.Index) else pd.Index(categories, dtype="str")
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(index))


def lead_ids(first: int, n: int, width: int) -> pd.Series:
    """Ids ``u_000001`` … numbered from ``first``, zero-padded to ``width`` digits."""
    numbers = pd.Series(np.arange(first, first + n), dtype=np.int64).astype("str")
    return "u_" + numbers.str.zfill(width)
