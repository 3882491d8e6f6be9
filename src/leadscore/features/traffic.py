"""Where a visit came from: referrer, UTM parameters and ad click ids → source and medium.

Sources are normalised (``google``, ``facebook``, ``linkedin``, ``medium``, ``email``,
``direct`` …) so that "l.facebook.com", "m.facebook.com" and "utm_source=fb" count as
one channel. Mediums: ``paid``, ``organic``, ``social``, ``email``, ``referral``,
``direct``, ``internal`` and ``unknown`` (the referrer was not recorded).

Every session's entry event is a touch: :func:`touch_features` gives each lead its first-
and last-touch source and medium and how many sources brought it. Referrers from the
site's own domains (:func:`own_domains`) are internal and never a touch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from leadscore.features.prepare import Prepared, distinct_per_lead, firsts
from leadscore.features.sessions import Sessions
from leadscore.features.vector import (
    arrow_text,
    as_series,
    extracted,
    lowered,
    unique_map,
)

# host fragment → (source, medium of an unpaid visit)
_HOSTS: tuple[tuple[str, str, str], ...] = (
    ("mail.google.", "email", "email"), ("outlook.", "email", "email"),
    ("mail.yahoo.", "email", "email"), ("webmail.", "email", "email"),
    ("mail.", "email", "email"),
    ("google.", "google", "organic"), ("bing.", "bing", "organic"),
    ("duckduckgo.", "duckduckgo", "organic"), ("yahoo.", "yahoo", "organic"),
    ("yandex.", "yandex", "organic"), ("baidu.", "baidu", "organic"),
    ("ecosia.", "ecosia", "organic"), ("search.brave.", "brave", "organic"),
    ("facebook.", "facebook", "social"), ("fb.com", "facebook", "social"),
    ("fb.me", "facebook", "social"), ("instagram.", "instagram", "social"),
    ("linkedin.", "linkedin", "social"), ("lnkd.in", "linkedin", "social"),
    ("t.co", "twitter", "social"), ("twitter.", "twitter", "social"),
    ("x.com", "twitter", "social"),
    ("reddit.", "reddit", "social"), ("youtube.", "youtube", "social"),
    ("youtu.be", "youtube", "social"), ("tiktok.", "tiktok", "social"),
    ("pinterest.", "pinterest", "social"), ("quora.", "quora", "social"),
    ("medium.com", "medium", "referral"), ("news.ycombinator.", "hackernews", "referral"),
    ("chatgpt.", "chatgpt", "referral"), ("perplexity.", "perplexity", "referral"),
)  # fmt: skip
_SOURCE_ALIASES = {
    "fb": "facebook", "facebook.com": "facebook", "ig": "instagram", "insta": "instagram",
    "li": "linkedin", "linkedin.com": "linkedin", "tw": "twitter", "x": "twitter",
    "google.com": "google", "adwords": "google", "googleads": "google", "google_ads": "google",
    "bing.com": "bing", "newsletter": "email", "mailchimp": "email", "hubspot": "email",
    "e-mail": "email", "yt": "youtube",
}  # fmt: skip
_MEDIUMS = {
    "cpc": "paid", "ppc": "paid", "paid": "paid", "paidsearch": "paid", "paid_search": "paid",
    "paid-social": "paid", "paid_social": "paid", "paidsocial": "paid", "display": "paid",
    "cpm": "paid", "banner": "paid", "ads": "paid", "ad": "paid", "email": "email",
    "e-mail": "email", "newsletter": "email", "mail": "email", "social": "social",
    "social-media": "social", "social_media": "social", "sm": "social", "organic": "organic",
    "referral": "referral", "affiliate": "affiliate", "partner": "referral",
}  # fmt: skip
_CLICK_IDS = (("gclid", "google"), ("gbraid", "google"), ("wbraid", "google"),
              ("fbclid", "facebook"), ("msclkid", "bing"), ("li_fat_id", "linkedin"),
              ("ttclid", "tiktok"), ("twclid", "twitter"))  # fmt: skip
_HOST = r"(?i)^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/]*@)?(?P<host>[^/:?#]+)"
#: a click id in a URL: counted per URL, and the one of a URL that has one extracted (a
#: URL with several is asked about each id, in order)
_ANY_CLICK = "[?&](?:" + "|".join(param for param, _ in _CLICK_IDS) + ")="
_ONE_CLICK = "[?&](?P<param>" + "|".join(param for param, _ in _CLICK_IDS) + ")="
_NETWORKS = dict(_CLICK_IDS)


def host_of(urls: pd.Series) -> pd.Series:
    """Lower-case host without ``www.`` (``https://www.Google.com/x`` → ``google.com``)."""
    hosts = lowered(extracted(arrow_text(urls), _HOST))
    return as_series(pc.replace_substring_regex(hosts, r"^www\.", ""), urls.index)


def query_param(urls: pd.Series, name: str) -> pd.Series:
    """The value of the query parameter ``name`` (``?utm_source=x`` → ``x``), else missing."""
    return as_series(extracted(arrow_text(urls), rf"[?&]{name}=(?P<value>[^&#]*)"), urls.index)


def click_source(urls: pd.Series) -> pd.Series:
    """The ad network whose click id is in the URL (``gclid`` → google), else missing; with
    several, the first of ``_CLICK_IDS``."""
    out = np.full(len(urls), None, dtype=object)
    text = arrow_text(urls)
    ids = pc.count_substring_regex(text, _ANY_CLICK).fill_null(0).to_numpy(zero_copy_only=False)
    one = np.flatnonzero(ids == 1)
    if len(one):  # most clicked URLs carry one id: the one match names the network
        found = pc.extract_regex(text.take(pa.array(one)), _ONE_CLICK).field("param")
        out[one] = pd.Series(found.to_numpy(zero_copy_only=False)).map(_NETWORKS).to_numpy()
    several = np.flatnonzero(ids > 1)
    if len(several):  # the first of _CLICK_IDS wins: set the others first
        some = text.take(pa.array(several))
        for param, network in reversed(_CLICK_IDS):
            has = pc.match_substring_regex(some, rf"[?&]{param}=").fill_null(False)
            out[several[has.to_numpy(zero_copy_only=False)]] = network
    return pd.Series(out, index=urls.index, dtype=object)


def _matches(host: str, fragment: str) -> bool:
    """``google.`` matches google.com, google.co.uk, news.google.com; ``t.co`` only t.co
    and its subdomains (never microsoft.com)."""
    if fragment.endswith("."):
        return host.startswith(fragment) or f".{fragment}" in host
    return host == fragment or host.endswith(f".{fragment}")


def _from_host(host: str) -> tuple[str, str] | None:
    for fragment, source, medium in _HOSTS:
        if _matches(host, fragment):
            return source, medium
    return None


def _classify(
    ref_host: object, utm_source: object, utm_medium: object, clicked: object,
    recorded: bool, own: frozenset[str],
) -> tuple[str, str]:  # fmt: skip
    utm_s = str(utm_source).strip().lower() if isinstance(utm_source, str) and utm_source else ""
    utm_m = str(utm_medium).strip().lower() if isinstance(utm_medium, str) and utm_medium else ""
    medium = _MEDIUMS.get(utm_m, utm_m) if utm_m else ""
    if isinstance(clicked, str):
        return clicked, "paid"
    if utm_s:
        source = _SOURCE_ALIASES.get(utm_s, utm_s)
        known = _from_host(source if "." in source else f"{source}.")
        if known is not None:
            source = known[0]
        return source, medium or (known[1] if known else "referral")
    if isinstance(ref_host, str) and ref_host:
        if ref_host in own or any(ref_host.endswith("." + d) for d in own):
            return "internal", "internal"
        known = _from_host(ref_host)
        if known is not None:
            return known[0], medium or known[1]
        return ref_host, medium or "referral"
    if medium:
        return "other", medium
    return ("direct", "direct") if recorded else ("unknown", "unknown")


def _raw_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Code per row (-1 where missing) and the distinct values as they are (not as text)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), np.asarray(values.cat.categories, dtype=object)
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    return codes, np.asarray(uniques, dtype=object)


def _derived(values: pd.Series, func: object) -> tuple[np.ndarray, np.ndarray]:
    """``func`` of the distinct values as codes per row into its distinct results (-1
    where the row or its result is missing), and those results."""
    codes, mapped = unique_map(values, func)
    ids, results = pd.factorize(mapped, use_na_sentinel=True)
    return np.append(ids, [-1])[codes], np.asarray(results, dtype=object)


def _filled(given: pd.Series, urls: pd.Series, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A UTM column, else the parameter of that name in the URL: codes and values."""
    given_codes, given_values = _raw_codes(given)
    url_codes, url_values = _derived(urls, lambda u: query_param(u, name))
    ids, values = pd.factorize(np.concatenate([given_values, url_values]), use_na_sentinel=True)
    from_given = np.append(ids[: len(given_values)], [-1])[given_codes]
    from_url = np.append(ids[len(given_values) :], [-1])[url_codes]
    return np.where(given_codes >= 0, from_given, from_url), np.asarray(values, dtype=object)


def traffic_codes(
    referrers: pd.Series,
    urls: pd.Series,
    utm_source: pd.Series,
    utm_medium: pd.Series,
    own_domains: frozenset[str] = frozenset(),
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`classify_traffic` as a code per row into its distinct ``(source, medium)``
    pairs (a ``k × 2`` array): every row's inputs are integer codes, and only the
    distinct combinations of them are classified."""
    parts = (
        _derived(referrers, host_of),
        _filled(utm_source, urls, "utm_source"),
        _filled(utm_medium, urls, "utm_medium"),
        _derived(urls, click_source),
        (_raw_codes(referrers)[0] >= 0).astype(np.int64),
    )
    # One combined integer key per row, so the distinct combinations are found fast.
    key = np.zeros(len(referrers), dtype=np.int64)
    levels = []
    for part in parts[:4]:
        codes, uniques = part
        values = np.append(uniques, [None])
        key = key * len(values) + np.where(codes < 0, len(values) - 1, codes)
        levels.append(values)
    key = key * 2 + parts[4]
    levels.append(np.array([False, True], dtype=object))
    row_codes, distinct = pd.factorize(key)
    combos = []
    for k in distinct:
        values = []
        for level in reversed(levels):
            k, code = divmod(int(k), len(level))
            values.append(level[code])
        host, utm_s, utm_m, clicked, recorded = reversed(values)
        combos.append(_classify(host, utm_s, utm_m, clicked, bool(recorded), own_domains))
    return row_codes, np.array(combos, dtype=object).reshape(-1, 2)


def classify_traffic(
    referrers: pd.Series,
    urls: pd.Series,
    utm_source: pd.Series,
    utm_medium: pd.Series,
    own_domains: frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """``source`` and ``medium`` for each visit (use session entry events).

    Click ids beat UTM parameters, which beat the referrer. An empty referrer means a
    direct visit; a missing one (not recorded) means unknown.

    Example
    -------
    >>> classify_traffic(pd.Series(["https://l.facebook.com/", ""]),
    ...                  pd.Series(["https://acme.com/", "https://acme.com/?gclid=x"]),
    ...                  pd.Series([None, None]), pd.Series([None, None])).values.tolist()
    [['facebook', 'social'], ['google', 'paid']]
    """
    row_codes, labels = traffic_codes(referrers, urls, utm_source, utm_medium, own_domains)
    return pd.DataFrame(labels[row_codes], index=referrers.index, columns=["source", "medium"])


def own_domains(urls: pd.Series, given: list[str]) -> frozenset[str]:
    """The site's own domains: ``given`` (without ``www.``), else the hosts carrying at
    least 5 % of the page URLs."""
    if given:
        return frozenset(d.lower().removeprefix("www.") for d in given)
    # counted per distinct URL, then summed by host: not a host per page view
    codes, hosts = unique_map(urls, host_of)
    views = pd.Series(np.bincount(codes[codes >= 0], minlength=len(hosts)))
    per_host = views.groupby(pd.Series(hosts, dtype=object), dropna=True).sum()
    return frozenset(per_host[per_host >= 0.05 * per_host.sum()].index)


def touch_features(
    prep: Prepared, sessions: Sessions, own: frozenset[str]
) -> dict[str, np.ndarray]:
    """First and last touch: the entry event of every session is a touch."""
    n = len(prep.leads)
    # only the four columns a touch is read from, at the sessions' entry events
    entries = prep.events.subset(sessions.entry, ("referrer", "url", "utm_source", "utm_medium"))
    row_codes, labels = traffic_codes(
        entries["referrer"], entries["url"], entries["utm_source"], entries["utm_medium"], own
    )
    # per distinct (source, medium), then spread to the touches by code
    source_ids = pd.factorize(labels[:, 0])[0] if len(labels) else np.zeros(0, np.int64)
    external = (labels[:, 0] != "internal")[row_codes] if len(labels) else row_codes >= 0
    t_lead = sessions.lead[external]
    t_codes = row_codes[external]
    out: dict[str, np.ndarray] = {}
    first_rows = firsts(t_lead)
    last_rows = np.r_[first_rows[1:], len(t_lead)] - 1
    for column, name in enumerate(("source", "medium")):
        values = labels[:, column] if len(labels) else np.zeros(0, dtype=object)
        first = np.full(n, "internal", dtype=object)
        last = first.copy()
        first[t_lead[first_rows]] = values[t_codes[first_rows]]
        last[t_lead[last_rows]] = values[t_codes[last_rows]]
        out[f"first_touch_{name}"] = first
        out[f"last_touch_{name}"] = last
    out["sources"] = distinct_per_lead(t_lead, source_ids[t_codes], n)
    return out
