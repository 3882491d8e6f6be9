"""User-agent strings → device type, operating system and browser (ua-parser).

Parsing is done once per distinct user agent (there are thousands, not millions) and
remembered across batches, so it costs little however many events share them.
:func:`device_features` gives each lead the device, OS and browser of its first event
that tells, and how many device types it used.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd
from ua_parser import parse

from leadscore.features.prepare import Prepared, distinct_per_lead, first_present
from leadscore.features.vector import by_unique, codes_and_uniques

_BOT = re.compile(r"bot\b|crawl|spider|slurp|headless|lighthouse|pingdom|python-requests", re.I)
_TV = re.compile(
    r"smart-?tv|smarttv|\btizen\b|web0s|webos|hbbtv|roku|appletv|apple ?tv|crkey|\baft[a-z]|"
    r"bravia|netcast|googletv|android tv|\btv\b|playstation|xbox|nintendo",
    re.I,
)
_TABLET = re.compile(r"ipad|tablet|kindle|silk/|playbook|sm-t\d|sm-x\d", re.I)
_MOBILE = re.compile(
    r"mobile|iphone|ipod|android.+mobile|windows phone|blackberry|opera mini", re.I
)
_DESKTOP_OS = {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora", "Debian"}


@lru_cache(maxsize=65_536)
def classify(user_agent: str) -> tuple[str, str, str]:
    """``(device_type, os, browser)`` for one user agent.

    Example
    -------
    >>> classify("Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    ...          "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1")
    ('tablet', 'iOS', 'Mobile Safari')
    """
    if not user_agent:
        return "unknown", "unknown", "unknown"
    result = parse(user_agent)
    browser = result.user_agent.family if result.user_agent else "Other"
    os_name = result.os.family if result.os else "Other"
    device = result.device.family if result.device else ""
    brand_model = f"{device} {result.device.model or ''}" if result.device else ""
    if device == "Spider" or _BOT.search(user_agent):
        kind = "bot"
    elif _TV.search(user_agent) or "tv" in brand_model.lower().split("_"):
        kind = "tv"
    elif _TABLET.search(user_agent) or "Tablet" in brand_model:
        kind = "tablet"
    elif _MOBILE.search(user_agent):
        kind = "mobile"
    elif os_name == "Android":
        kind = "tablet"  # Android without "Mobile" in the string is a tablet by convention
    elif os_name in _DESKTOP_OS or re.search(r"windows nt|macintosh|x11", user_agent, re.I):
        kind = "desktop"
    else:
        kind = "unknown"
    return kind, os_name, browser


def normalise_device(values: pd.Series) -> pd.Series:
    """Device names sent by trackers (``iPhone``, ``Android``, ``iPad``, ``Desktop``) → types."""
    lower = values.str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="object")
    rules = (
        (r"^(?:desktop|mobile|tablet|tv|bot)$", None),
        (r"ipad|tablet|kindle", "tablet"),
        (r"tv|roku|chromecast|fire ?stick", "tv"),
        (r"iphone|android|mobile|phone|ipod", "mobile"),
        (r"desktop|windows|mac|linux|pc|computer|laptop", "desktop"),
    )
    for pattern, kind in reversed(rules):
        hit = lower.str.contains(pattern, regex=True, na=False).to_numpy()
        out[hit] = lower[hit] if kind is None else kind
    return out


def device_features(prep: Prepared) -> dict[str, np.ndarray]:
    """Device type, OS and browser of the lead's first event that tells; device types.

    Names sent by the source win over what the user agent says. Everything is worked
    out per distinct user agent and spread by code, never per event.
    """
    g, n, frame = prep.g, len(prep.leads), prep.events
    ua_codes, user_agents = codes_and_uniques(frame["user_agent"])
    parsed = pd.DataFrame(
        [classify(str(ua)) for ua in user_agents],
        columns=["device_type", "os", "browser"],
    )
    out: dict[str, np.ndarray] = {}
    device_codes = np.full(len(g), -1)
    for column in ("device_type", "os", "browser"):
        values = parsed[column].mask(parsed[column] == "unknown")
        codes, names = pd.factorize(values, use_na_sentinel=True)
        per_event = np.append(codes, -1)[ua_codes]
        from_ua = pd.Series(pd.Categorical.from_codes(per_event, names))
        first = first_present(g, from_ua, n)
        given = frame[column]
        if given.notna().any():
            if column == "device_type":
                given = pd.Series(by_unique(given, normalise_device), dtype=object)
            stated = first_present(g, given, n)
            first = np.where(pd.isna(stated), first, stated)
        out[column] = first
        if column == "device_type":
            device_codes = per_event
    out["device_types"] = distinct_per_lead(g, device_codes, n)
    return out
