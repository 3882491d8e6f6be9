"""IP addresses → country, and countries → time zones, offline.

The default country database ships inside the ``geoip2fast`` package, so nothing is
fetched at run time. A MaxMind ``.mmdb`` file (GeoLite2-Country or GeoIP2) can be used
instead by giving its path.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytz

from leadscore.errors import ConfigError


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
        """Country per value, looking each distinct address up once."""
        codes, uniques = pd.factorize(ips, use_na_sentinel=True)
        countries = np.array([self._one(str(ip)) for ip in uniques] + [None], dtype=object)
        return pd.Series(countries[codes], index=ips.index, dtype=object)


@lru_cache(maxsize=1)
def _geoip2fast() -> Any:
    from geoip2fast import GeoIP2Fast

    return GeoIP2Fast(verbose=False)


@lru_cache(maxsize=512)
def country_timezone(country: str) -> str | None:
    """The main IANA time zone of a country (the first pytz lists), or ``None``."""
    zones = pytz.country_timezones.get(str(country).upper())
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
