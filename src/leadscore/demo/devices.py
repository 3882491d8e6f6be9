"""What the demo visitors browse with: device types and their user-agent strings.

Each device type (desktop, mobile, tablet, tv) has the user agents of the browsers people
really use on it, with each template's share and its current versions, so that parsing the
``user_agent`` column (ua-parser) gives back the device type the outcome was drawn with, plus
a realistic spread of operating systems and browsers that have no effect of their own. About
5 % of leads with several sessions come back once on a second device
(:data:`SECOND_DEVICE`), as people do, so a pipeline has to choose which device a lead "has".
"""

from __future__ import annotations

import numpy as np

from leadscore.demo.common import draw

__all__ = ["SECOND_DEVICE", "SECOND_DEVICE_SHARE", "pick_user_agents", "user_agent_pool"]

SECOND_DEVICE_SHARE = 0.05  # of leads with at least two sessions

# --- user agents: (template, versions, weight) per device type -----------------------------------

_CHROME = ("126.0.0.0", "127.0.0.0", "128.0.0.0", "129.0.0.0", "130.0.0.0", "131.0.0.0")
_CHROME_MOBILE = ("129.0.6668.100", "130.0.6723.107", "131.0.6778.81", "131.0.6778.104")
_USER_AGENTS: dict[str, tuple[tuple[str, tuple[str, ...], float], ...]] = {
    "desktop": (
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/{v} Safari/537.36", _CHROME, 0.38),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/{v} Safari/537.36 Edg/{v}", ("129.0.0.0", "130.0.0.0", "131.0.0.0"), 0.12),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}) Gecko/20100101 Firefox/{v}",
         ("131.0", "132.0", "133.0"), 0.06),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
         "Gecko) Version/{v} Safari/605.1.15", ("17.6", "18.0", "18.1", "18.2"), 0.17),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
         "Gecko) Chrome/{v} Safari/537.36", _CHROME, 0.19),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:{v}) Gecko/20100101 Firefox/{v}",
         ("132.0", "133.0"), 0.03),
        ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:{v}) Gecko/20100101 Firefox/{v}",
         ("132.0", "133.0"), 0.02),
        ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/{v} Safari/537.36", _CHROME[-3:], 0.03),
    ),
    "mobile": (
        ("Mozilla/5.0 (iPhone; CPU iPhone OS {v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) Version/{w} Mobile/15E148 Safari/604.1",
         ("17_6_1", "18_0", "18_1_1", "18_2"), 0.36),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS {v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", ("17_6_1", "18_1"), 0.05),
        ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/{v} Mobile Safari/537.36", _CHROME_MOBILE, 0.12),
        ("Mozilla/5.0 (Linux; Android 14; SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) "
         "SamsungBrowser/{v} Chrome/122.0.0.0 Mobile Safari/537.36", ("25.0", "26.0"), 0.08),
        ("Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/{v} Mobile Safari/537.36", _CHROME_MOBILE, 0.07),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 7a) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/{v} Mobile Safari/537.36", _CHROME_MOBILE, 0.04),
        ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/{v} Mobile Safari/537.36", ("130.0.0.0", "131.0.0.0"), 0.20),
        ("Mozilla/5.0 (Linux; Android 13; 2201116SG) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/{v} Mobile Safari/537.36", _CHROME_MOBILE, 0.08),
    ),
    "tablet": (
        ("Mozilla/5.0 (iPad; CPU OS {v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/{w} Mobile/15E148 Safari/604.1", ("17_7", "18_1", "18_2"), 0.62),
        ("Mozilla/5.0 (iPad; CPU OS {v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", ("17_7", "18_1"), 0.08),
        ("Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/{v} Safari/537.36", _CHROME_MOBILE, 0.18),
        ("Mozilla/5.0 (Linux; Android 13; SM-T220) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/{v} Safari/537.36", _CHROME_MOBILE, 0.12),
    ),
    "tv": (
        ("Mozilla/5.0 (SMART-TV; Linux; Tizen {v}) AppleWebKit/537.36 (KHTML, like Gecko) "
         "SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36", ("5.5", "6.0", "6.5"), 0.40),
        ("Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/{v} Safari/537.36 WebAppManager", ("79.0.3945.79", "87.0.4280.88"), 0.25),
        ("Roku/DVP-{v}", ("12.5 (12.5.0.4178-C8)", "13.0 (13.0.0.4160-46)"), 0.15),
        ("AppleTV{v}", ("11,1/11.1", "14,1/17.2"), 0.10),
        ("Mozilla/5.0 (X11; Linux armv7l) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} "
         "Safari/537.36 CrKey/1.56.500000 DeviceType/AndroidTV", ("124.0.6367.0",), 0.10),
    ),
}  # fmt: skip
SECOND_DEVICE = {"desktop": "mobile", "mobile": "desktop", "tablet": "mobile", "tv": "mobile"}


def user_agent_pool() -> tuple[list[str], np.ndarray]:
    """Every user-agent string (with its share within its device type) and device type."""
    strings: list[str] = []
    devices: list[str] = []
    for device, templates in _USER_AGENTS.items():
        for template, versions, _ in templates:
            for version in versions:
                short = version.replace("_", ".")
                strings.append(template.format(v=version, w=short))
                devices.append(device)
    return strings, np.array(devices)


def pick_user_agents(
    rng: np.random.Generator, device: np.ndarray, strings: list[str], devices: np.ndarray
) -> np.ndarray:
    """A user-agent code per lead, drawn within its device type by template share."""
    out = np.empty(device.size, dtype=np.int16)
    for name, templates in _USER_AGENTS.items():
        rows = np.flatnonzero(device == name)
        codes = np.flatnonzero(devices == name)
        weights = [share / len(versions) for _, versions, share in templates for _ in versions]
        out[rows] = codes[draw(rng, rows.size, weights)]
    return out
