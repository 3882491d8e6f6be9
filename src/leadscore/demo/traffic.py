"""How visitors reach the demo site: referrers, UTM campaigns and ad click ids.

A lead's first touch is what attribution works from, so it is written into the events as a
real tracking pipeline records it: the landing page view's referrer (the country's own
Google domain, Facebook's link shims, a Medium article, a partner's listing, or nothing for
direct and most e-mail traffic), UTM parameters on the landing URL for paid and e-mail
traffic (not always: some campaigns are untagged), and the ``gclid``/``fbclid`` click ids of
Google and Facebook ads. The source the outcome was drawn with (``truth.source``) can then
be recovered from these alone. Returning visitors come back through search, social, e-mail
or typed-in URLs (:data:`RETURN_REFERRERS`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadscore.demo.common import draw
from leadscore.demo.population import COUNTRIES, COUNTRY_GOOGLE
from leadscore.demo.site import PATHS, SITE
from leadscore.demo.truth import SOURCES

__all__ = [
    "REF",
    "REFERRERS",
    "RETURN_REFERRERS",
    "UTM_CAMPAIGNS",
    "UTM_MEDIUMS",
    "UTM_SOURCES",
    "country_google_codes",
    "first_touch",
    "landing_urls",
]

_MEDIUM_ARTICLES = (
    "@dana.whitfield/why-your-lead-scoring-model-is-lying-to-you-3f9a1c2b7d4e",
    "@marco.rossi/we-replaced-our-mql-definition-with-a-model-8c21e0f4a9b3",
    "@priya.nair/the-revops-stack-we-actually-use-in-2026-51d7a2c9e0f8",
    "@tom.becker/lessons-from-scoring-a-million-leads-0a6b9d3e2c71",
    "@aiko.tanaka/intent-signals-that-predict-b2b-deals-b47e1f0c5a28",
    "@lucas.martin/crm-hygiene-is-a-growth-lever-e19c6a7b3d05",
)  # fmt: skip
_PARTNERS = (
    ("g2", "https://www.g2.com/products/acme-analytics/reviews"),
    ("capterra", "https://www.capterra.com/p/214587/Acme-Analytics/"),
    ("zapier", "https://zapier.com/apps/acme-analytics/integrations"),
    ("hubspot", "https://ecosystem.hubspot.com/marketplace/apps/acme-analytics"),
    ("salesforce", "https://appexchange.salesforce.com/appxListingDetail?listingId=a0N3u00000Acme1"),
)  # fmt: skip
REFERRERS: tuple[str, ...] = (
    "", "https://www.google.com/", *COUNTRY_GOOGLE.values(), "https://www.bing.com/",
    "https://duckduckgo.com/", "https://l.facebook.com/", "https://lm.facebook.com/",
    "https://m.facebook.com/", "https://www.linkedin.com/", "https://www.linkedin.com/feed/",
    "https://t.co/", "https://news.ycombinator.com/", "https://www.reddit.com/r/sales/",
    "https://mail.google.com/", "https://outlook.live.com/",
    *(f"https://medium.com/{article}" for article in _MEDIUM_ARTICLES),
    *(url for _, url in _PARTNERS),
)  # fmt: skip
REF = {url: code for code, url in enumerate(REFERRERS)}
_REF_BY_SOURCE: dict[str, dict[str, float]] = {  # "google" is the country's Google domain
    "google_organic": {"https://www.google.com/": 0.55, "google": 0.45},
    "google_ads": {"https://www.google.com/": 0.70, "google": 0.30},
    "facebook": {"https://l.facebook.com/": 0.60, "https://lm.facebook.com/": 0.25,
                 "https://m.facebook.com/": 0.15},
    "direct": {"": 1.0},
    "email": {"": 0.75, "https://mail.google.com/": 0.15, "https://outlook.live.com/": 0.10},
    "linkedin": {"https://www.linkedin.com/": 0.60, "https://www.linkedin.com/feed/": 0.40},
    "partner": {},  # the partner's own page, matching utm_source
    "medium": {f"https://medium.com/{article}": 1.0 for article in _MEDIUM_ARTICLES},
}  # fmt: skip
RETURN_REFERRERS = {"": 0.55, "https://www.google.com/": 0.15, "google": 0.05,
                     "https://www.bing.com/": 0.05, "https://duckduckgo.com/": 0.02,
                     "https://t.co/": 0.05, "https://news.ycombinator.com/": 0.03,
                     "https://www.reddit.com/r/sales/": 0.02, "https://www.linkedin.com/": 0.04,
                     "https://mail.google.com/": 0.04}  # fmt: skip
_CAMPAIGNS: dict[str, tuple[float, str, str, tuple[str, ...]]] = {
    # source: (share with UTM parameters, utm_source, utm_medium, campaigns)
    "google_ads": (1.0, "google", "cpc", ("brand_search", "lead_scoring_generic",
                                          "competitor_conquest", "crm_analytics_emea")),
    "facebook": (0.75, "facebook", "paid_social", ("retargeting_q1", "lookalike_saas",
                                                   "webinar_promo")),
    "linkedin": (0.60, "linkedin", "paid_social", ("abm_enterprise", "sponsored_content_q1")),
    "email": (0.90, "newsletter", "email", ("weekly_digest", "product_update_jan",
                                            "webinar_invite")),
    "partner": (0.50, "", "referral", ("partner_program",)),
}  # fmt: skip
UTM_SOURCES = ("google", "facebook", "linkedin", "newsletter", *(name for name, _ in _PARTNERS))
UTM_MEDIUMS = ("cpc", "paid_social", "email", "referral")
UTM_CAMPAIGNS = tuple(dict.fromkeys(c for *_, names in _CAMPAIGNS.values() for c in names))
_CLICK_IDS = ("", "gclid", "fbclid")
_ALPHABET = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", dtype=np.uint8
)


def first_touch(
    rng: np.random.Generator, source: np.ndarray, country: np.ndarray
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """Referrer code, UTM codes (source, medium, campaign; -1 none) and click-id kind of the
    first page view of every lead."""
    n = source.size
    referrer = np.zeros(n, dtype=np.int32)
    utm = tuple(np.full(n, -1, dtype=np.int8) for _ in range(3))
    click = np.zeros(n, dtype=np.int8)
    local_google = country_google_codes()[country]
    for code, name in enumerate(SOURCES):
        rows = np.flatnonzero(source == code)
        if name == "partner":
            partner = rng.integers(0, len(_PARTNERS), size=rows.size)
            referrer[rows] = np.array([REF[url] for _, url in _PARTNERS])[partner]
        else:
            choices = _REF_BY_SOURCE[name]
            picked = draw(rng, rows.size, list(choices.values()))
            codes = np.array([REF.get(url, -1) for url in choices])[picked]
            referrer[rows] = np.where(codes < 0, local_google[rows], codes)
        if name in _CAMPAIGNS:
            share, utm_source, medium, campaigns = _CAMPAIGNS[name]
            chosen = rng.random(rows.size) < share
            tagged = rows[chosen]
            if name == "partner":
                partner_utm = np.array([UTM_SOURCES.index(p) for p, _ in _PARTNERS])
                utm[0][tagged] = partner_utm[partner[chosen]]
            else:
                utm[0][tagged] = UTM_SOURCES.index(utm_source)
            utm[1][tagged] = UTM_MEDIUMS.index(medium)
            campaign = np.array([UTM_CAMPAIGNS.index(c) for c in campaigns], dtype=np.int8)
            utm[2][tagged] = campaign[rng.integers(0, campaign.size, size=tagged.size)]
        if name == "google_ads":
            click[rows] = 1
        elif name == "facebook":
            click[rows] = 2
    return referrer, utm, click


def landing_urls(
    rng: np.random.Generator,
    landing_path: np.ndarray,
    utm: tuple[np.ndarray, np.ndarray, np.ndarray],
    click: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct landing URLs with a query string, and each lead's code into them (-1: the
    plain page URL)."""
    tagged = utm[0] >= 0
    rows = np.flatnonzero(tagged | (click > 0))
    codes = np.full(landing_path.size, -1, dtype=np.int64)
    if rows.size == 0:
        return np.array([], dtype=object), codes
    lookup = {
        0: np.array([*UTM_SOURCES, ""], dtype=object),
        1: np.array([*UTM_MEDIUMS, ""], dtype=object),
        2: np.array([*UTM_CAMPAIGNS, ""], dtype=object),
    }
    query = np.where(
        tagged[rows],
        "utm_source=" + lookup[0][utm[0][rows]] + "&utm_medium=" + lookup[1][utm[1][rows]]
        + "&utm_campaign=" + lookup[2][utm[2][rows]],
        "",
    )  # fmt: skip
    kind = click[rows]
    clicked = np.flatnonzero(kind > 0)
    if clicked.size:
        ids = _random_tokens(rng, clicked.size, 40)
        prefix = np.array(["", "Cj0KCQiA", "IwAR"], dtype=object)[kind[clicked]]
        suffix = np.array(["", "BwE", ""], dtype=object)[kind[clicked]]
        glue = np.where(tagged[rows][clicked], "&", "")
        name = np.array(_CLICK_IDS, dtype=object)[kind[clicked]]
        query[clicked] = query[clicked] + glue + name + "=" + prefix + ids + suffix
    base = np.array([SITE + p for p in PATHS], dtype=object)[landing_path[rows]]
    full = base + "?" + query
    uniques_codes, uniques = pd.factorize(full)
    codes[rows] = uniques_codes
    return np.asarray(uniques, dtype=object), codes


def _random_tokens(rng: np.random.Generator, m: int, length: int) -> np.ndarray:
    """URL-safe random tokens (object array of str)."""
    letters = _ALPHABET[rng.integers(0, _ALPHABET.size, size=(m, length))]
    return np.ascontiguousarray(letters).view(f"S{length}").ravel().astype(str).astype(object)


def country_google_codes() -> np.ndarray:
    """Referrer code of each country's Google domain (google.com for the US)."""
    return np.array(
        [REF[COUNTRY_GOOGLE.get(c, "https://www.google.com/")] for c in COUNTRIES],
        dtype=np.int32,
    )
