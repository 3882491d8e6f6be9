"""The URL parts the features read (page category, host, query parameters, click ids),
computed by Arrow's string kernels on the distinct URLs, against Python's ``re`` and
``str.lower`` one URL at a time, on URLs built to catch differences: case, schemes, user
info, ports, fragments, repeated and empty parameters, unicode, blanks and missing values.
(pandas' own ``str`` methods lowered unicode by Python's rules or Arrow's depending on the
string storage; these parts keep Python's.)"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from leadscore.features.journey import page_category
from leadscore.features.traffic import _CLICK_IDS, click_source, host_of, query_param

# What each part means, one value at a time in Python (the references)
_HOST = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/]*@)?([^/:?#]+)", re.I)
_PATH = re.compile(r"^(?:[a-z][a-z0-9+.-]*://[^/?#]*)?([^?#]*)")


def _each(urls: pd.Series, part: object) -> list[object]:
    return [None if pd.isna(url) else part(url) for url in urls]  # type: ignore[operator]


def _page_category(url: str) -> str:
    found = _PATH.search(url)
    first = (found.group(1) if found else "").strip("/").split("/", 1)[0].lower()
    return first or "home"


def _host_of(url: str) -> str | None:
    found = _HOST.search(url)
    return re.sub(r"^www\.", "", found.group(1).lower()) if found else None


def _query_param(url: str, name: str) -> str | None:
    found = re.search(rf"[?&]{name}=([^&#]*)", url)
    return found.group(1) if found else None


def _click_source(url: str) -> str | None:
    return next((net for param, net in _CLICK_IDS if re.search(rf"[?&]{param}=", url)), None)


def _urls(n: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    schemes = ["https://", "HTTP://", "http://", "", "ftp+x.y-z://", "//", "1http://"]
    hosts = ["www.Google.com", "WWW.acme.io:8080", "user:pw@www.x.org", "münchen.de",
             "ſhop.example", "localhost", "", "www.", "a.b.c", "İstanbul.tr"]  # fmt: skip
    paths = ["", "/", "//", "/Pricing", "/blog/How-To/x", "pricing/", "/a b/c", "/ÄRGER/",
             "/?", "/#x", "///deep//path", "/İ", "/x\ny"]  # fmt: skip
    params = ["utm_source=fb", "utm_source=", "UTM_SOURCE=x", "gclid=1", "fbclid=2",
              "msclkid=3", "li_fat_id=4", "xgclid=5", "utm_medium=cpc", "ttclid=",
              "wbraid=6&gbraid=7", "a=1&utm_source=two&utm_source=three"]  # fmt: skip
    out = []
    for _ in range(n):
        url = rng.choice(schemes) + rng.choice(hosts) + rng.choice(paths)
        chosen = rng.choice(params, int(rng.integers(0, 4)), replace=False)
        if len(chosen):
            url += rng.choice(["?", "#", "&", "?&"]) + "&".join(chosen)
        if rng.random() < 0.1:
            url += "#frag?utm_source=after_hash"
        out.append(url)
    values = pd.Series(out, dtype="string")
    values[rng.random(n) < 0.05] = pd.NA
    return values


def _same(found: pd.Series, expected: list[object]) -> None:
    assert [None if pd.isna(v) else v for v in found] == expected


def test_url_parts_are_pythons() -> None:
    for seed in range(5):
        urls = _urls(3000, seed)
        assert page_category(urls).index.equals(urls.index)
        _same(page_category(urls), [_page_category(u) if not pd.isna(u) else "home" for u in urls])
        _same(host_of(urls), _each(urls, _host_of))
        for name in ("utm_source", "utm_medium", "utm_campaign"):
            _same(query_param(urls, name), _each(urls, lambda u, n=name: _query_param(u, n)))
        _same(click_source(urls), _each(urls, _click_source))


def test_url_parts_of_nothing() -> None:
    empty = pd.Series([], dtype="string")
    assert len(page_category(empty)) == len(host_of(empty)) == len(click_source(empty)) == 0
