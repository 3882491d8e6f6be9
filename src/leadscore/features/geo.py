"""IP addresses → country, and countries → time zones, offline.

The default country database ships inside the ``geoip2fast`` package, so nothing is
fetched at run time. A MaxMind ``.mmdb`` file (GeoLite2-Country or GeoIP2) can be used
instead by giving its path.

Per lead: :func:`lead_countries` (the country the source names, else the IP's) and
:func:`local_offsets` (the UTC offset at the first visit: the client's, else its IP
country's time zone, else UTC).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytz

from leadscore.errors import ConfigError
from leadscore.features.prepare import Prepared, as_times, first_present


class CountryLookup:
    """Country code (ISO 3166 alpha-2) of IP addresses.

    Parameters
    ----------
    mmdb_path:
        Optional MaxMind database; by default the database shipped with geoip2fast.

    Example
    -------
    >>> CountryLookup().lookup(pd.Series(["8.8.8.8", "not an ip", None])).tolist()
    ['US', None, None]
    """

    def __init__(self, mmdb_path: str | Path | None = None) -> None:
        self.mmdb_path = mmdb_path
        if mmdb_path is not None:
            import maxminddb

            path = Path(mmdb_path)
            if not path.is_file():
                raise ConfigError(f"MaxMind database not found: {path}")
            self._reader = maxminddb.open_database(str(path))
        else:
            self._reader = _geoip2fast()

    def _one(self, ip: str) -> str | None:
        if self.mmdb_path is not None:
            try:
                record = self._reader.get(ip)
            except ValueError:
                return None
            country = (record or {}).get("country") or (record or {}).get("registered_country")
            return country.get("iso_code") if country else None
        code = self._reader.lookup(ip).country_code
        return code if code and len(code) == 2 and code != "--" else None

    def lookup(self, ips: pd.Series) -> pd.Series:
        """Country per value, looking each distinct address up once.

        IPv4 addresses are looked up in bulk (a binary search over the bundled database's
        network table); anything else one by one.
        """
        codes, uniques = pd.factorize(ips, use_na_sentinel=True)
        distinct = pd.Series(pd.Index(uniques).astype(object), dtype=object)
        countries = np.full(len(distinct), None, dtype=object)
        table = None if self.mmdb_path is not None else _ipv4_table()
        done = np.zeros(len(distinct), dtype=bool)
        if table is not None and len(distinct):
            numbers = ipv4_to_int(distinct)
            ok = numbers >= 0
            countries[ok] = table.countries(numbers[ok])
            done = ok
        for i in np.flatnonzero(~done):
            countries[i] = self._one(str(distinct.iloc[i]))
        return pd.Series(np.append(countries, [None])[codes], index=ips.index, dtype=object)


def ipv4_to_int(addresses: pd.Series) -> np.ndarray:
    """IPv4 dotted quads as integers; -1 where the text is not an IPv4 address."""
    out = np.full(len(addresses), -1, dtype=np.int64)
    text = pa.array(addresses.astype(object).where(addresses.notna(), None), type=pa.string())
    pattern = r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$"
    valid = pc.fill_null(pc.match_substring_regex(text, pattern), False)
    valid = valid.to_numpy(zero_copy_only=False)
    if valid.any():
        # Arrow splits and parses a million addresses in C++, not Python
        parts = pc.list_flatten(pc.split_pattern(pc.filter(text, pa.array(valid)), "."))
        octets = pc.cast(parts, pa.int64()).to_numpy().reshape(-1, 4)
        in_range = (octets <= 255).all(axis=1)
        numbers = (octets[:, 0] << 24) | (octets[:, 1] << 16) | (octets[:, 2] << 8) | octets[:, 3]
        out[np.flatnonzero(valid)[in_range]] = numbers[in_range]
    return out


class _Ipv4Table:
    """The bundled geoip2fast networks as sorted arrays, for vectorised lookups."""

    def __init__(self, first: np.ndarray, size: np.ndarray, country: np.ndarray) -> None:
        self.first, self.size, self.country = first, size, country

    def countries(self, numbers: np.ndarray) -> np.ndarray:
        slot = np.searchsorted(self.first, numbers, side="right") - 1
        slot = np.clip(slot, 0, len(self.first) - 1)
        inside = (numbers >= self.first[slot]) & (numbers < self.first[slot] + self.size[slot])
        return np.where(inside, self.country[slot], None)


@lru_cache(maxsize=1)
def _ipv4_table() -> _Ipv4Table | None:
    """Arrays from geoip2fast's loaded database, or None if its layout is not the known one
    (then every address is looked up through its public ``lookup``)."""
    _geoip2fast()
    module = __import__("geoip2fast.geoip2fast", fromlist=["mainListFirstIP"])
    try:
        first = np.concatenate([np.asarray(c, dtype=np.int64) for c in module.mainListFirstIP])
        ids = np.concatenate([np.asarray(c, dtype=np.int64) for c in module.mainListIDCountryCodes])
        netlen = np.concatenate([np.asarray(c, dtype=np.int64) for c in module.mainListNetlength])
        names = [str(item).split(":")[0] for item in module.mainListNamesCountry]
    except (AttributeError, TypeError, ValueError):
        return None
    ipv4 = first <= 0xFFFFFFFF
    codes = np.array(
        [None if i < 16 or len(names[i]) != 2 else names[i] for i in range(len(names))],
        dtype=object,
    )  # the first 16 entries are private and reserved networks
    return _Ipv4Table(first[ipv4], 1 << (32 - netlen[ipv4]), codes[ids[ipv4]])


@lru_cache(maxsize=1)
def _geoip2fast() -> Any:
    from geoip2fast import GeoIP2Fast

    return GeoIP2Fast(verbose=False)


# For countries spanning several zones, the zone where most people live (pytz lists
# zones alphabetically or west to east: St John's for Canada, Lord Howe for Australia).
_MOST_POPULOUS_ZONE = {
    "US": "America/New_York", "CA": "America/Toronto", "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo", "RU": "Europe/Moscow", "MX": "America/Mexico_City",
    "ID": "Asia/Jakarta", "CN": "Asia/Shanghai", "KZ": "Asia/Almaty",
    "AR": "America/Argentina/Buenos_Aires", "CL": "America/Santiago", "DE": "Europe/Berlin",
    "ES": "Europe/Madrid", "PT": "Europe/Lisbon", "NZ": "Pacific/Auckland",
    "CD": "Africa/Kinshasa", "MN": "Asia/Ulaanbaatar", "UA": "Europe/Kyiv",
    "EC": "America/Guayaquil", "MY": "Asia/Kuala_Lumpur", "PG": "Pacific/Port_Moresby",
}  # fmt: skip


@lru_cache(maxsize=512)
def country_timezone(country: str) -> str | None:
    """The main IANA time zone of a country, or ``None`` for an unknown code."""
    code = str(country).upper()
    if code in _MOST_POPULOUS_ZONE:
        return _MOST_POPULOUS_ZONE[code]
    zones = pytz.country_timezones.get(code)
    return zones[0] if zones else None


def utc_offset_minutes(times: pd.Series, zones: pd.Series) -> pd.Series:
    """UTC offset in minutes (local = UTC + offset) of each time in its zone, DST-aware."""
    out = pd.Series(np.nan, index=times.index)
    for zone, rows in zones.dropna().groupby(zones.dropna()).groups.items():
        try:
            local = times.loc[rows].dt.tz_localize("UTC").dt.tz_convert(str(zone))
        except (pytz.UnknownTimeZoneError, KeyError, ValueError):
            continue
        offsets = local.dt.tz_localize(None) - times.loc[rows]
        out.loc[rows] = offsets.dt.total_seconds().to_numpy() / 60
    return out


# ----------------------------------------------------------------------------- per lead


def lead_countries(prep: Prepared, lookup: Callable[[], CountryLookup]) -> np.ndarray:
    """Country code per lead: the first the source names, else the country of the first
    IP address (``lookup()`` is called only when an address must be looked up). Computed
    once per preparation."""
    if prep.countries is not None:
        return prep.countries
    n = len(prep.leads)
    # upper case worked out once per distinct code, not once per lead
    codes, named = pd.factorize(first_present(prep.g, prep.events["country"], n))
    upper = [code.upper() if isinstance(code, str) else None for code in named]
    given = pd.Series(np.array([*upper, None], dtype=object)[codes], dtype=object)
    ips = pd.Series(first_present(prep.g, prep.events["ip"], n), dtype=object)
    need = given.isna() & ips.notna()
    if need.any():
        given[need] = lookup().lookup(ips[need]).to_numpy()
    prep.countries = given.to_numpy(dtype=object)
    return prep.countries


def local_offsets(
    prep: Prepared, first_ts: np.ndarray, countries: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """UTC offset (minutes) at the first visit and where it came from, per lead:
    ``client`` (its offset or time zone), ``ip_country`` (``countries``' zone) or ``utc``."""
    n = len(prep.leads)
    frame = prep.events
    offset = np.full(n, np.nan)
    source = np.full(n, "utc", dtype=object)
    client = first_present(prep.g, frame["tz_offset_minutes"], n).astype(float)
    have = ~np.isnan(client)
    offset[have] = client[have]
    source[have] = "client"
    firsts = pd.Series(as_times(first_ts))
    zones = pd.Series(first_present(prep.g, frame["timezone"], n), dtype=object)
    from_zone = utc_offset_minutes(firsts, zones.where(~have))
    use = np.isnan(offset) & from_zone.notna().to_numpy()
    offset[use] = from_zone.to_numpy()[use]
    source[use] = "client"
    # a zone per distinct country, not per lead
    codes, distinct = pd.factorize(pd.Series(countries, dtype=object), use_na_sentinel=True)
    zones_of = [country_timezone(c) if c else None for c in distinct]
    country_zones = pd.Series(np.array([*zones_of, None], dtype=object)[codes], dtype=object)
    from_country = utc_offset_minutes(firsts, country_zones.where(np.isnan(offset)))
    use = np.isnan(offset) & from_country.notna().to_numpy()
    offset[use] = from_country.to_numpy()[use]
    source[use] = "ip_country"
    return np.nan_to_num(offset), source
