"""Sessions and timing: how much a lead did, and when.

A session starts after ``session_gap_minutes`` of inactivity. From the sessions and the
events come the activity features (events, page views, distinct pages, sessions, time on
site, pages per session, and — when measured "as of" a common time — recency) and the
timing features (hour, weekday, weekend and business hours of the first visit in the
lead's local time, active days, the first return and whether it came the same day).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leadscore.features.prepare import (
    NS_PER_DAY,
    NS_PER_HOUR,
    Prepared,
    as_times,
    distinct_per_lead,
    firsts,
)
from leadscore.features.vector import codes_and_uniques


@dataclass
class Sessions:
    """Sessions in lead and time order: a new one after ``gap`` minutes of inactivity."""

    entry: np.ndarray  # position of each session's first event
    lead: np.ndarray  # lead code of each session (sorted)
    start: np.ndarray  # int64 ns
    minutes: np.ndarray  # from first to last event

    @classmethod
    def of(cls, prep: Prepared, gap_minutes: float) -> Sessions:
        g, ts = prep.g, prep.ts
        gap = np.int64(gap_minutes * 60 * 1e9)
        new = np.r_[True, (g[1:] != g[:-1]) | (np.diff(ts) > gap)]
        entry = np.flatnonzero(new)
        last = np.r_[entry[1:], len(ts)] - 1
        return cls(entry, g[entry], ts[entry], (ts[last] - ts[entry]) / 6e10)


def activity(
    prep: Prepared,
    sessions: Sessions,
    first_ts: np.ndarray,
    recent_days: float,
    as_of_features: bool,
) -> dict[str, np.ndarray]:
    """Events, page views, distinct pages, sessions, time on site, pages per session; with
    ``as_of_features`` also events in the last ``recent_days``, days since the last event
    and events per day, measured at each lead's reference time."""
    g, ts, n = prep.g, prep.ts, len(prep.leads)
    out: dict[str, np.ndarray] = {}
    n_events = np.bincount(g, minlength=n)
    page_views = np.bincount(g, weights=prep.is_page_view, minlength=n)
    count = np.bincount(sessions.lead, minlength=n)
    out["events"] = n_events.astype(float)
    out["page_views"] = page_views
    url_codes, _ = codes_and_uniques(prep.events["url"])
    out["distinct_pages"] = distinct_per_lead(g, np.where(prep.is_page_view, url_codes, -1), n)
    out["sessions"] = count.astype(float)
    out["time_on_site_min"] = np.bincount(sessions.lead, weights=sessions.minutes, minlength=n)
    out["pages_per_session"] = page_views / np.maximum(count, 1)
    if as_of_features:
        last_ts = ts[np.r_[prep.starts[1:], len(ts)] - 1]
        recent = ts >= (prep.ref[g] - np.int64(recent_days * NS_PER_DAY))
        out[f"events_last_{recent_days:g}d"] = np.bincount(g, weights=recent, minlength=n)
        out["days_since_last_event"] = (prep.ref - last_ts) / NS_PER_DAY
        span_days = np.maximum((prep.ref - first_ts) / NS_PER_DAY, 1.0)
        out["events_per_day"] = n_events / span_days
    return out


def timing(
    prep: Prepared,
    sessions: Sessions,
    first_ts: np.ndarray,
    offset: np.ndarray,
    source: np.ndarray,
) -> dict[str, np.ndarray]:
    """Local time of the first visit, active days and the first return.

    ``offset`` is each lead's UTC offset in minutes and ``source`` where it came from
    (:func:`leadscore.features.geo.local_offsets`).
    """
    g, n = prep.g, len(prep.leads)
    out: dict[str, np.ndarray] = {}
    offset_ns = (offset * 6e10).astype(np.int64)
    local_first = as_times(first_ts + offset_ns)
    weekday = local_first.day_of_week.to_numpy()
    hour = local_first.hour.to_numpy()
    out["first_visit_hour"] = hour.astype(float)
    out["first_visit_weekday"] = weekday.astype(float)
    out["first_visit_weekend"] = (weekday >= 5).astype(float)
    business = (weekday < 5) & (hour >= 9) & (hour < 18)
    out["first_visit_business_hours"] = business.astype(float)
    out["local_time_from"] = source
    local_day = (prep.ts + offset_ns[g]) // NS_PER_DAY
    # events are sorted by lead and time, so a lead's local days only ever increase
    new_day = np.r_[True, (g[1:] != g[:-1]) | (local_day[1:] != local_day[:-1])]
    out["active_days"] = np.bincount(g[new_day], minlength=n).astype(float)
    # a lead's second session starts right after its first one in the session list
    first = firsts(sessions.lead)
    has_second = np.r_[first[1:], len(sessions.lead)] - first > 1
    second = np.full(n, np.nan)
    second[sessions.lead[first[has_second]]] = sessions.start[first[has_second] + 1]
    returned = ~np.isnan(second)
    out["returned"] = returned.astype(float)
    out["hours_to_return"] = np.where(returned, (second - first_ts) / NS_PER_HOUR, np.nan)
    first_day = (first_ts + offset_ns) // NS_PER_DAY
    second_day = np.floor((np.nan_to_num(second) + offset_ns) / NS_PER_DAY)
    out["returned_same_day"] = (returned & (second_day == first_day)).astype(float)
    return out
