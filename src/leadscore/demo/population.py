"""Who visits the demo website, from where, and when (the event generator's population).

Leads come from 11 countries with realistic shares; each country has its time zones (by
share) and a few IPv4 blocks of consumer ISPs, so a feature pipeline can recover the country
from the IP address and the local time from the client's UTC offset or, when that is not
sent, from the IP country's time zone. :func:`arrivals` draws every lead's country, time zone
and first visit (busy late mornings and quiet weekends in the lead's *local* time), and
:class:`OffsetGrid` turns UTC times into local ones for the whole period, daylight saving
included, without a per-event time-zone lookup.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from leadscore.demo.common import HOUR_WEIGHTS, MS_DAY, MS_HOUR, MS_MINUTE, day_weights, draw

__all__ = [
    "COUNTRIES",
    "COUNTRY_GOOGLE",
    "TZ_SHARE",
    "ZONES",
    "OffsetGrid",
    "arrivals",
    "draw_ips",
    "format_ips",
]

TZ_SHARE = 0.70  # leads whose events carry tz_offset_minutes

# --- geography: share, time zones (share), IPv4 blocks of consumer ISPs --------------------------
# Every block was checked against the geoip2fast database shipped with the package.

COUNTRIES: dict[str, tuple[float, dict[str, float], tuple[str, ...]]] = {
    "IN": (0.28, {"Asia/Kolkata": 1.0},
           ("106.192.0.0/11", "117.224.0.0/11", "49.32.0.0/12", "157.32.0.0/12",
            "182.64.0.0/12")),
    "US": (0.25, {"America/New_York": 0.47, "America/Chicago": 0.29, "America/Denver": 0.06,
                  "America/Phoenix": 0.02, "America/Los_Angeles": 0.16},
           ("73.0.0.0/8", "24.0.0.0/12", "107.64.0.0/10", "71.160.0.0/11", "76.96.0.0/11")),
    "GB": (0.10, {"Europe/London": 1.0},
           ("86.160.0.0/11", "90.192.0.0/11", "92.16.0.0/12", "81.96.0.0/12")),
    "DE": (0.07, {"Europe/Berlin": 1.0},
           ("79.192.0.0/10", "84.160.0.0/11", "91.0.0.0/11", "77.176.0.0/12")),
    "BR": (0.07, {"America/Sao_Paulo": 0.80, "America/Fortaleza": 0.08, "America/Bahia": 0.06,
                  "America/Manaus": 0.06},
           ("179.192.0.0/10", "177.160.0.0/12", "189.64.0.0/12", "191.160.0.0/11")),
    "CA": (0.05, {"America/Toronto": 0.55, "America/Vancouver": 0.18, "America/Edmonton": 0.12,
                  "America/Winnipeg": 0.06, "America/Halifax": 0.06, "America/St_Johns": 0.03},
           ("99.224.0.0/11", "70.64.0.0/12", "142.112.0.0/12", "24.64.0.0/13")),
    "AU": (0.05, {"Australia/Sydney": 0.35, "Australia/Melbourne": 0.30,
                  "Australia/Brisbane": 0.18, "Australia/Perth": 0.10, "Australia/Adelaide": 0.07},
           ("1.128.0.0/11", "101.176.0.0/12", "120.144.0.0/12", "58.160.0.0/12")),
    "FR": (0.04, {"Europe/Paris": 1.0},
           ("86.192.0.0/10", "78.224.0.0/11", "82.224.0.0/11", "176.128.0.0/11")),
    "NL": (0.03, {"Europe/Amsterdam": 1.0},
           ("77.168.0.0/13", "83.80.0.0/13", "84.24.0.0/13", "86.80.0.0/13")),
    "SG": (0.03, {"Asia/Singapore": 1.0},
           ("116.14.0.0/15", "116.86.0.0/15", "118.200.0.0/15", "121.6.0.0/15")),
    "JP": (0.03, {"Asia/Tokyo": 1.0},
           ("126.0.0.0/9", "180.0.0.0/10", "60.64.0.0/10", "153.160.0.0/11")),
}  # fmt: skip
COUNTRY_GOOGLE = {
    "IN": "https://www.google.co.in/", "GB": "https://www.google.co.uk/",
    "DE": "https://www.google.de/", "BR": "https://www.google.com.br/",
    "CA": "https://www.google.ca/", "AU": "https://www.google.com.au/",
    "FR": "https://www.google.fr/", "NL": "https://www.google.nl/",
    "SG": "https://www.google.com.sg/", "JP": "https://www.google.co.jp/",
}  # fmt: skip
"""Each country's own Google domain (the US uses google.com), a search referrer."""

ZONES: tuple[str, ...] = tuple(z for _, tz, _ in COUNTRIES.values() for z in tz)
"""Every time zone, country by country: a lead's ``zone`` code indexes this."""

_GRID_STEP_MS = 15 * MS_MINUTE  # every UTC-offset change happens on a quarter hour


class OffsetGrid:
    """UTC offsets (minutes) of a few time zones on a 15-minute grid of UTC times."""

    def __init__(self, zones: Sequence[str], first_ms: int, span_days: int) -> None:
        self.first_ms = first_ms
        self.size = span_days * (MS_DAY // _GRID_STEP_MS)
        utc = pd.date_range(
            pd.Timestamp(first_ms, unit="ms", tz="UTC"), periods=self.size, freq="15min"
        )
        naive = utc.tz_localize(None)
        self.minutes = np.empty((len(zones), self.size), dtype=np.int16)
        for row, zone in enumerate(zones):
            local = utc.tz_convert(zone).tz_localize(None)
            self.minutes[row] = (local - naive) // pd.Timedelta(minutes=1)

    def at(self, zone: np.ndarray, utc_ms: np.ndarray) -> np.ndarray:
        """Offset in minutes of each zone code at each UTC time (int64)."""
        step = (utc_ms - self.first_ms) // _GRID_STEP_MS
        return self.minutes[zone, np.clip(step, 0, self.size - 1)].astype(np.int64)


def arrivals(
    rng: np.random.Generator,
    n: int,
    start: pd.Timestamp,
    start_ms: int,
    days: int,
    grid: OffsetGrid,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Country code, time-zone code (into :data:`ZONES`) and first visit (UTC milliseconds)
    of ``n`` leads arriving over ``days`` days from local midnight of ``start``, sorted by
    the first visit."""
    country = draw(rng, n, [share for share, _, _ in COUNTRIES.values()]).astype(np.int8)
    zone = np.empty(n, dtype=np.int16)
    first_zone = 0
    for code, (_, tz, _) in enumerate(COUNTRIES.values()):
        rows = np.flatnonzero(country == code)
        zone[rows] = first_zone + draw(rng, rows.size, list(tz.values()))
        first_zone += len(tz)
    day = draw(rng, n, list(day_weights(start, days)))
    hour = draw(rng, n, list(HOUR_WEIGHTS))
    local = start_ms + day * MS_DAY + hour * MS_HOUR + rng.integers(0, MS_HOUR, size=n)
    first_utc = local - grid.at(zone, local) * MS_MINUTE
    first_utc = local - grid.at(zone, first_utc) * MS_MINUTE
    order = np.argsort(first_utc, kind="stable")
    return country[order], zone[order], first_utc[order]


def draw_ips(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """An IPv4 address (as an integer) from a consumer block of each lead's country."""
    out = np.empty(country.size, dtype=np.int64)
    for code, (_, _, blocks) in enumerate(COUNTRIES.values()):
        rows = np.flatnonzero(country == code)
        bases, sizes = [], []
        for block in blocks:
            network, prefix = block.split("/")
            a, b, c, d = (int(part) for part in network.split("."))
            bases.append((a << 24) | (b << 16) | (c << 8) | d)
            sizes.append(1 << (32 - int(prefix)))
        picked = rng.integers(0, len(blocks), size=rows.size)
        host = (rng.random(rows.size) * np.array(sizes)[picked]).astype(np.int64)
        address = np.array(bases, dtype=np.int64)[picked] + host
        last = address & 255
        out[rows] = address - last + 1 + last % 254  # avoid .0 and .255
    return out


def format_ips(addresses: np.ndarray) -> pd.Series:
    """Dotted-quad strings of IPv4 addresses given as integers."""
    octets = [
        pc.cast(pa.array((addresses >> shift) & 255), pa.string()) for shift in (24, 16, 8, 0)
    ]
    return pd.Series(pc.binary_join_element_wise(*octets, "."), dtype="str")
