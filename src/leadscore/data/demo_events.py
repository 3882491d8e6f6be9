"""A seeded, realistic web funnel at the event level, with known (planted) effects.

:func:`generate_events` builds what a tracking pipeline (Segment, Mixpanel, server logs)
exports for a software company's website: one row per event — page views with full URLs,
page titles, referrers, UTM parameters, user agents, IP addresses and the client's UTC
offset — plus the milestone events of a lead (``signup``, ``demo_request``,
``download_whitepaper``, ``webinar_registered``). The outcome of every lead is drawn from a
known logistic model of attributes that can be *recovered from the events*, so feature
pipelines and models can be checked against ground truth (``DemoEvents.truth``).
:func:`write_demo_events` writes a labelled history, the events of fresh leads to score and
the truth as files (JSON Lines or Parquet, CSV).

The funnel
----------
Leads arrive over ``days`` days from local midnight of ``start`` (weekdays busier, quiet
nights, busy late mornings — in the lead's *local* time). Each lead has 1–15 sessions
(sessions are separated by more than 30 minutes of inactivity; within a session page views
are 3 seconds to 25 minutes apart) and exactly one ``signup`` (the lead-capture milestone,
in its first session for about 85 % of leads, else in its second), right after a view of
``/signup``. A hidden engagement level drives the number of sessions and pages, returning
the same day, viewing the pricing page and the milestone events, so these correlate with
one another (engagement itself has no direct effect on the outcome). Later sessions come
back the same day or days later, through search, social, e-mail or typed-in URLs.

Attributes: source (first touch: referrer, UTM parameters, ``gclid``/``fbclid``), device
(from the user agent; 5 % of leads with several sessions use a second device once),
country (from the IP address, 11 countries), time zone (``tz_offset_minutes`` is sent for
70 % of leads; the others must fall back to the IP country's time zone).

Planted effects (logit scale, strongest first)
----------------------------------------------

==  ================================  ===========================================================
#   Attribute (in ``truth``)          Effect on the logit; how the events show it
==  ================================  ===========================================================
1   ``returned_same_day``             +1.3: the first return (second session) starts on the
                                      same local day as the first visit
2   ``demo_request``                  +1.2: the lead has a ``demo_request`` event
3   ``source``                        medium +1.6 (≈ 1 % of leads), email +0.7, linkedin +0.5,
                                      partner +0.4, google_ads +0.3, google_organic +0.2,
                                      direct 0, facebook −0.5: the first page view's referrer,
                                      UTM parameters and click ids
4   ``device``                        desktop +0.6, mobile 0, tablet 0, tv −0.8: user agent
5   ``pricing_views``                 +0.5 when the lead viewed ``/pricing`` at least twice
6   ``weekend_first_visit``           −0.4: first visit on a Saturday or Sunday (local time)
7   ``business_hours_first_visit``    +0.2: first visit 09:00–16:59 local time
==  ================================  ===========================================================

The intercept is ``-3.37`` (about 12 % positives) unless ``positive_rate`` is given, in
which case it is solved so that the mean true probability equals ``positive_rate``.
Country, whitepaper downloads, webinar registrations, the number of sessions and pages and
the browser have **no direct effect** (they correlate with the outcome only through the
engagement level or not at all).

Timing and leakage
------------------
Every behaviour event of a lead happens before its ``outcome_at``. Converters are won some
hours to about three weeks after their signup (and after their last visit); lost leads are
marked lost 4–40 days after their last activity, as a CRM does — so "days since the last
event" measured *at the outcome time* separates the classes by construction: score at a
fixed horizon, not at the outcome. With ``post_outcome_events=True`` converters also have
``onboarding_started``, ``invoice_paid`` (server-side: no URL, user agent or IP) and page
views of ``/app/...`` URLs, all strictly after ``outcome_at``: a feature pipeline that does
not cut events at the outcome time looks perfect.

Columns of ``DemoEvents.events`` are :data:`EVENT_COLUMNS`. ``timestamp`` is tz-aware UTC;
``tz_offset_minutes`` is float with NaN when absent; repetitive text columns (``event``,
``url``, ``page_title``, ``referrer``, ``utm_*``, ``user_agent``, ``ip``) are pandas
categoricals — ten million events take about 1 GB — and
``events.astype({"url": "str"})`` gives plain strings where needed.

Example
-------
>>> demo = generate_events(500, seed=7)
>>> list(demo.events.columns) == list(EVENT_COLUMNS)
True
>>> int((demo.events["event"] == "signup").sum())
500
>>> sorted(demo.outcomes["converted"].unique())
['no', 'yes']
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from leadscore.data.demo import (
    _HOUR_WEIGHTS,
    _WEEKEND_VOLUME,
    _check_count,
    _check_flag,
    _check_rate,
    _check_seed,
    _check_start,
    _sigmoid,
    _solve_intercept,
)
from leadscore.errors import DataError

__all__ = [
    "EVENT_COLUMNS",
    "EVENT_NAMES",
    "POST_OUTCOME_EVENTS",
    "SITE",
    "DemoEvents",
    "generate_events",
    "write_demo_events",
]

DEFAULT_START = "2026-01-05"
DEFAULT_DAYS = 60
SITE = "https://www.acme-analytics.com"

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

TRUTH_COLUMNS: tuple[str, ...] = (
    "lead_id", "true_probability", "source", "device", "country", "timezone",
    "has_tz_offset", "engagement", "sessions", "second_device", "first_visit_at",
    "first_visit_local", "weekend_first_visit", "business_hours_first_visit",
    "returned_same_day", "demo_request", "pricing_views", "signup_at",
)  # fmt: skip
"""Columns of ``DemoEvents.truth``."""

# --- planted effects -----------------------------------------------------------------------------

_SOURCES: dict[str, tuple[float, float]] = {  # first-touch source: (share, logit effect)
    "google_organic": (0.26, 0.2),
    "google_ads": (0.14, 0.3),
    "facebook": (0.18, -0.5),
    "direct": (0.15, 0.0),
    "email": (0.10, 0.7),
    "linkedin": (0.08, 0.5),
    "partner": (0.08, 0.4),
    "medium": (0.01, 1.6),
}
_DEVICES: dict[str, tuple[float, float]] = {  # device type: (share, logit effect)
    "desktop": (0.50, 0.6),
    "mobile": (0.40, 0.0),
    "tablet": (0.085, 0.0),
    "tv": (0.015, -0.8),
}
RETURNED_EFFECT = 1.3
DEMO_EFFECT = 1.2
PRICING_EFFECT = 0.5
PRICING_MIN_VIEWS = 2
WEEKEND_EFFECT = -0.4
BUSINESS_HOURS = (9, 17)  # [start, end) local hour of the first visit
BUSINESS_HOURS_EFFECT = 0.2
DEFAULT_INTERCEPT = -3.37  # ≈ 12 % positives with the shares and behaviour below
TZ_SHARE = 0.70  # leads whose events carry tz_offset_minutes
SECOND_DEVICE_SHARE = 0.05  # of leads with at least two sessions

# --- geography: share, time zones (share), IPv4 blocks of consumer ISPs --------------------------
# Every block was checked against the geoip2fast database shipped with the package.

_COUNTRIES: dict[str, tuple[float, dict[str, float], tuple[str, ...]]] = {
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
_COUNTRY_GOOGLE = {
    "IN": "https://www.google.co.in/", "GB": "https://www.google.co.uk/",
    "DE": "https://www.google.de/", "BR": "https://www.google.com.br/",
    "CA": "https://www.google.ca/", "AU": "https://www.google.com.au/",
    "FR": "https://www.google.fr/", "NL": "https://www.google.nl/",
    "SG": "https://www.google.com.sg/", "JP": "https://www.google.co.jp/",
}  # fmt: skip

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
_SECOND_DEVICE = {"desktop": "mobile", "mobile": "desktop", "tablet": "mobile", "tv": "mobile"}

# --- the site: pages by kind ---------------------------------------------------------------------

_BLOG_SLUGS = (
    "how-to-score-leads", "crm-integration-guide", "lead-qualification-checklist",
    "b2b-funnel-benchmarks-2026", "what-is-predictive-lead-scoring", "mql-vs-sql",
    "sales-pipeline-metrics", "reduce-churn-with-analytics", "email-nurture-sequences",
    "abm-101", "attribution-models-explained", "marketing-ops-stack",
    "saas-pricing-pages-that-convert", "cold-outreach-templates", "building-a-revops-team",
    "forecasting-with-small-data", "gdpr-and-lead-data", "hubspot-vs-salesforce",
    "webinar-funnels-that-work", "intent-data-primer", "lead-routing-rules",
    "customer-health-scores", "product-led-growth-metrics", "sales-and-marketing-alignment",
    "landing-page-ab-tests", "data-quality-for-crm", "win-loss-analysis",
    "conversion-rate-benchmarks", "demand-gen-playbook", "machine-learning-for-sales",
)  # fmt: skip
_FEATURES = ("lead-scoring", "crm-sync", "dashboards", "email-tracking", "forecasting",
             "integrations", "ab-testing", "api")  # fmt: skip
_CUSTOMERS = ("northwind-traders", "globex", "initech", "umbrella-health", "stark-logistics",
              "wayne-retail")  # fmt: skip
_DOCS = (
    "getting-started",
    "install-tracking-snippet",
    "api-reference",
    "salesforce-connector",
    "hubspot-connector",
    "webhooks",
    "data-export",
    "sso-setup",
    "scoring-models",
    "faq",
)
_WEBINARS = ("lead-scoring-masterclass", "revops-roundtable-q1", "from-mql-to-revenue",
             "ai-for-sales-teams")  # fmt: skip
_RESOURCES = ("state-of-lead-scoring-2026", "crm-data-quality-whitepaper",
              "b2b-conversion-benchmarks", "predictive-scoring-buyers-guide",
              "revops-maturity-model")  # fmt: skip
_APP = (
    ("/app/onboarding", "Welcome"),
    ("/app/dashboard", "Dashboard"),
    ("/app/leads", "Leads"),
    ("/app/reports", "Reports"),
    ("/app/integrations", "Integrations"),
    ("/app/settings/team", "Team settings"),
    ("/app/settings/billing", "Billing"),
)
_UPPER = {"crm": "CRM", "mql": "MQL", "sql": "SQL", "b2b": "B2B", "gdpr": "GDPR", "abm": "ABM",
          "saas": "SaaS", "api": "API", "ab": "A/B", "ai": "AI", "revops": "RevOps",
          "sso": "SSO", "faq": "FAQ", "hubspot": "HubSpot", "q1": "Q1",
          "salesforce": "Salesforce"}  # fmt: skip


def _words(slug: str) -> str:
    """``crm-integration-guide`` → ``CRM integration guide``."""
    words = [_UPPER.get(w, w) for w in slug.split("-")]
    first = words[0]
    words[0] = first if first in _UPPER.values() else first.capitalize()
    return " ".join(words)


def _build_pages() -> tuple[list[str], list[str], list[str]]:
    """Paths, titles and kinds of every page of the site (the app pages last)."""
    pages: list[tuple[str, str, str]] = [
        ("/", "Acme Analytics — Predictive lead scoring for B2B teams", "home"),
        ("/product", "Product overview | Acme Analytics", "product"),
        ("/pricing", "Pricing | Acme Analytics", "pricing"),
        ("/demo", "Book a demo | Acme Analytics", "demo"),
        ("/signup", "Start your free trial | Acme Analytics", "signup"),
        ("/contact", "Contact sales | Acme Analytics", "contact"),
        ("/careers", "Careers | Acme Analytics", "careers"),
        ("/about", "About us | Acme Analytics", "about"),
        ("/security", "Security & compliance | Acme Analytics", "security"),
        ("/integrations", "Integrations | Acme Analytics", "integrations"),
    ]
    pages += [(f"/features/{x}", f"{_words(x)} | Features | Acme Analytics", "feature")
              for x in _FEATURES]  # fmt: skip
    pages += [(f"/blog/{x}", f"{_words(x)} | Acme Analytics Blog", "blog") for x in _BLOG_SLUGS]
    pages += [(f"/customers/{x}", f"{_words(x)} case study | Acme Analytics", "customer")
              for x in _CUSTOMERS]  # fmt: skip
    pages += [(f"/docs/{x}", f"{_words(x)} | Acme Analytics Docs", "doc") for x in _DOCS]
    pages += [(f"/webinars/{x}", f"Webinar: {_words(x)} | Acme Analytics", "webinar")
              for x in _WEBINARS]  # fmt: skip
    pages += [(f"/resources/{x}", f"{_words(x)} (whitepaper) | Acme Analytics", "resource")
              for x in _RESOURCES]  # fmt: skip
    pages += [(path, f"{title} · Acme Analytics", "app") for path, title in _APP]
    paths, titles, kinds = (list(column) for column in zip(*pages, strict=True))
    return paths, titles, kinds


_PATHS, _TITLES, _KINDS = _build_pages()
_KIND_CODES: dict[str, np.ndarray] = {
    kind: np.flatnonzero(np.array(_KINDS) == kind) for kind in dict.fromkeys(_KINDS)
}
_PAGE = {path: code for code, path in enumerate(_PATHS)}
_PRICING, _SIGNUP, _DEMO = _PAGE["/pricing"], _PAGE["/signup"], _PAGE["/demo"]
_APP_CODES = _KIND_CODES["app"]
_ONBOARDING = _PAGE["/app/onboarding"]

# Weight of each kind of page (shared evenly, blog posts by popularity) in general browsing;
# the pricing page is drawn separately with a per-lead propensity.
_BROWSE = {"home": 0.08, "product": 0.10, "feature": 0.14, "demo": 0.02, "blog": 0.22,
           "customer": 0.07, "doc": 0.10, "contact": 0.02, "careers": 0.015, "about": 0.03,
           "security": 0.02, "integrations": 0.04, "webinar": 0.02, "resource": 0.02}  # fmt: skip
_RETURN_ENTRY = {"home": 0.35, "pricing": 0.15, "blog": 0.15, "product": 0.10, "doc": 0.10,
                 "feature": 0.08, "customer": 0.04, "demo": 0.03}  # fmt: skip
_LANDING: dict[str, dict[str, float]] = {
    "google_organic": {"blog": 0.55, "home": 0.25, "feature": 0.10, "doc": 0.10},
    "google_ads": {"product": 0.35, "pricing": 0.25, "feature": 0.25, "demo": 0.15},
    "facebook": {"home": 0.40, "product": 0.30, "blog": 0.30},
    "direct": {"home": 0.75, "pricing": 0.10, "product": 0.10, "doc": 0.05},
    "email": {"blog": 0.60, "feature": 0.20, "webinar": 0.20},
    "linkedin": {"blog": 0.40, "customer": 0.30, "product": 0.30},
    "partner": {"product": 0.45, "integrations": 0.35, "customer": 0.20},
    "medium": {"blog": 0.60, "home": 0.20, "feature": 0.20},
}


def _page_distribution(kinds: Mapping[str, float]) -> np.ndarray:
    """Probability of every page given the weight of each kind of page."""
    p = np.zeros(len(_PATHS))
    for kind, weight in kinds.items():
        codes = _KIND_CODES[kind]
        within = (
            1.0 / np.arange(1, codes.size + 1) ** 0.8 if kind == "blog" else np.ones(codes.size)
        )
        p[codes] += weight * within / within.sum()
    return p / p.sum()


# --- referrers and campaigns ---------------------------------------------------------------------

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
_REFERRERS: tuple[str, ...] = (
    "", "https://www.google.com/", *_COUNTRY_GOOGLE.values(), "https://www.bing.com/",
    "https://duckduckgo.com/", "https://l.facebook.com/", "https://lm.facebook.com/",
    "https://m.facebook.com/", "https://www.linkedin.com/", "https://www.linkedin.com/feed/",
    "https://t.co/", "https://news.ycombinator.com/", "https://www.reddit.com/r/sales/",
    "https://mail.google.com/", "https://outlook.live.com/",
    *(f"https://medium.com/{article}" for article in _MEDIUM_ARTICLES),
    *(url for _, url in _PARTNERS),
)  # fmt: skip
_REF = {url: code for code, url in enumerate(_REFERRERS)}
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
_RETURN_REFERRERS = {"": 0.55, "https://www.google.com/": 0.15, "google": 0.05,
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
_UTM_SOURCES = ("google", "facebook", "linkedin", "newsletter", *(name for name, _ in _PARTNERS))
_UTM_MEDIUMS = ("cpc", "paid_social", "email", "referral")
_UTM_CAMPAIGNS = tuple(dict.fromkeys(c for *_, names in _CAMPAIGNS.values() for c in names))
_CLICK_IDS = ("", "gclid", "fbclid")
_ALPHABET = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", dtype=np.uint8
)

# --- timing --------------------------------------------------------------------------------------

MS_MINUTE = 60_000
MS_HOUR = 60 * MS_MINUTE
MS_DAY = 24 * MS_HOUR
SESSION_GAP_MS = 30 * MS_MINUTE
_MAX_DWELL_MS = 25 * MS_MINUTE
_GRID_STEP_MS = 15 * MS_MINUTE  # every UTC-offset change happens on a quarter hour
_MAX_SESSIONS = 15


@dataclass(frozen=True, eq=False)  # eq=False: DataFrames cannot be compared with ==
class DemoEvents:
    """Generated events, outcomes and ground truth.

    Attributes
    ----------
    events:
        One row per event (columns :data:`EVENT_COLUMNS`), sorted by ``timestamp``.
    outcomes:
        ``lead_id``, ``converted`` (``"yes"``/``"no"``) and ``outcome_at`` (tz-aware UTC:
        when the lead converted or was marked lost).
    truth:
        ``lead_id``, ``true_probability`` and the latent attributes it was computed from
        (:data:`TRUTH_COLUMNS`).
    """

    events: pd.DataFrame
    outcomes: pd.DataFrame
    truth: pd.DataFrame

    @property
    def events_per_lead(self) -> float:
        """Mean number of events per lead."""
        return len(self.events) / max(1, len(self.truth))


def generate_events(
    leads: int = 2000,
    *,
    seed: int = 42,
    start: str | pd.Timestamp = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    positive_rate: float | None = None,
    post_outcome_events: bool = True,
) -> DemoEvents:
    """Generate a seeded web funnel at the event level with the planted effects above.

    The same arguments give identical output. Behaviour (times, pages, devices, the truth's
    attributes) does not depend on ``positive_rate``; only which leads convert does — and so
    the outcome times, the post-outcome events and the random ``event_id`` values. Fully
    vectorised: a million leads (about ten million events) take about 15 seconds and 3.5 GB
    at peak on two cores.

    Parameters
    ----------
    leads:
        Number of leads (an integer >= 1). Ids are ``u_000001``, ``u_000002`` … in order of
        the first visit.
    seed:
        Seed of the random streams (a non-negative integer).
    start:
        First day of arrivals; leads arrive over ``days`` days from local midnight.
    days:
        Length of the arrival period in days (an integer >= 1).
    positive_rate:
        Expected share of converted leads, strictly between 0 and 1. ``None`` keeps the
        default intercept (about 12 %).
    post_outcome_events:
        Add ``onboarding_started``, ``invoice_paid`` and ``/app/`` page views after the
        outcome of converters.

    Returns
    -------
    DemoEvents
        The events, the outcomes and the ground truth.

    Example
    -------
    >>> demo = generate_events(2000, seed=1, positive_rate=0.05)
    >>> round(float(demo.truth["true_probability"].mean()), 3)
    0.05
    >>> 8 <= demo.events_per_lead <= 12
    True
    """
    leads = _check_count("leads", leads)
    days = _check_count("days", days)
    seed = _check_seed(seed)
    start_day = _check_start(start)
    positive_rate = _check_rate(positive_rate)
    post_outcome_events = _check_flag("post_outcome_events", post_outcome_events)
    width = max(6, len(str(leads)))
    return _generate(leads, seed, 0, start_day, days, positive_rate, post_outcome_events, 1, width)


def write_demo_events(
    directory: str | Path,
    leads: int = 2000,
    new_leads: int = 500,
    seed: int = 42,
    days: int = DEFAULT_DAYS,
    messy: bool = True,
    fmt: str = "jsonl",
) -> dict[str, Path]:
    """Write a labelled event history, fresh leads' events and the truth.

    * ``events.jsonl`` (or ``events.parquet``): every event of ``leads`` leads arriving over
      ``days`` days from 2026-01-05, post-outcome events included.
    * ``outcomes.csv``: ``lead_id``, ``converted``, ``outcome_at`` (ISO 8601 UTC).
    * ``new_events.jsonl`` (or ``.parquet``): events of ``new_leads`` fresh leads arriving
      right after the history at the same daily volume, from another random stream, with
      ids numbered after the history; no post-outcome events and no outcomes: to be scored.
    * ``truth.csv``: the truth of both sets of leads.
    * ``events_manifest.json``: counts of leads, events and lines, and of the malformed lines.

    With ``messy=True`` (JSON Lines only) about 0.1 % extra lines (at least 5) are sprinkled
    into ``events.jsonl`` to exercise quarantine: a line cut in half (broken JSON), a copy of
    an event without ``lead_id``, a copy with the timestamp ``"yesterday-ish"`` (both with a
    new ``event_id``) and exact duplicates (same ``event_id``) of an event. Dropping them
    gives back exactly the generated events. The directory is created if needed; existing
    files with these names are overwritten.

    Parameters
    ----------
    directory:
        Where to write the files.
    leads:
        Number of labelled leads (an integer >= 1).
    new_leads:
        Number of fresh leads (an integer >= 1).
    seed:
        Seed of the random streams (a non-negative integer).
    days:
        Arrival period of the history in days (an integer >= 1).
    messy:
        Sprinkle malformed lines into ``events.jsonl``.
    fmt:
        ``"jsonl"`` (JSON Lines) or ``"parquet"`` for the two event files.

    Returns
    -------
    dict[str, Path]
        Paths by name: ``"events"``, ``"outcomes"``, ``"new_events"``, ``"truth"`` and
        ``"manifest"``.

    Example
    -------
    >>> paths = write_demo_events(Path("demo"), leads=500, new_leads=100)  # doctest: +SKIP
    >>> sorted(paths)  # doctest: +SKIP
    ['events', 'manifest', 'new_events', 'outcomes', 'truth']
    """
    leads = _check_count("leads", leads)
    new_leads = _check_count("new_leads", new_leads)
    seed = _check_seed(seed)
    days = _check_count("days", days)
    messy = _check_flag("messy", messy)
    if fmt not in ("jsonl", "parquet"):
        raise DataError(f"fmt must be 'jsonl' or 'parquet', got {fmt!r}")
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise DataError(f"directory: {directory} exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True)

    start = _check_start(DEFAULT_START)
    width = max(6, len(str(leads + new_leads)))
    history = _generate(leads, seed, 0, start, days, None, True, 1, width)
    new_days = max(1, round(days * new_leads / leads))
    new_start = start + pd.Timedelta(days=days)
    fresh = _generate(new_leads, seed, 1, new_start, new_days, None, False, leads + 1, width)

    suffix = "jsonl" if fmt == "jsonl" else "parquet"
    paths = {
        "events": directory / f"events.{suffix}",
        "outcomes": directory / "outcomes.csv",
        "new_events": directory / f"new_events.{suffix}",
        "truth": directory / "truth.csv",
        "manifest": directory / "events_manifest.json",
    }
    malformed = dict.fromkeys(_MESSY_KINDS, 0)
    if fmt == "jsonl":
        lines = len(history.events)
        if messy:
            rng = np.random.default_rng([seed, 2])
            malformed = _messy_counts(len(history.events))
            lines += sum(malformed.values())
            plan = _messy_plan(rng, len(history.events), malformed)
        else:
            plan = None
        _write_jsonl(history.events, paths["events"], plan)
        _write_jsonl(fresh.events, paths["new_events"], None)
    else:
        lines = 0
        _write_parquet(history.events, paths["events"])
        _write_parquet(fresh.events, paths["new_events"])
    _write_csv(history.outcomes, paths["outcomes"])
    _write_csv(pd.concat([history.truth, fresh.truth], ignore_index=True), paths["truth"])
    manifest = {
        "format": fmt,
        "seed": seed,
        "leads": leads,
        "new_leads": new_leads,
        "events": len(history.events),
        "new_events": len(fresh.events),
        "lines": lines,
        "malformed": malformed,
        "malformed_total": sum(malformed.values()),
        "converted": int(history.outcomes["converted"].eq("yes").sum()),
    }
    paths["manifest"].write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return paths


# --- generation ----------------------------------------------------------------------------------


class _OffsetGrid:
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


def _generate(
    n: int,
    seed: int,
    stream: int,
    start: pd.Timestamp,
    days: int,
    positive_rate: float | None,
    post_outcome: bool,
    first_id: int,
    width: int,
) -> DemoEvents:
    """Draw everything for already validated arguments (the order of the draws is part of
    the API: changing it changes every seeded output)."""
    rng = np.random.default_rng([seed, stream])
    zones = [z for _, tz, _ in _COUNTRIES.values() for z in tz]
    start_ms = int((start - pd.Timestamp("1970-01-01")) // pd.Timedelta(milliseconds=1))
    grid = _OffsetGrid(zones, start_ms - 2 * MS_DAY, days + 420)

    # --- who arrives when: country, time zone, first visit in local time (sorted in UTC) ---
    country = _draw(rng, n, [share for share, _, _ in _COUNTRIES.values()]).astype(np.int8)
    zone = np.empty(n, dtype=np.int16)
    first_zone = 0
    for code, (_, tz, _) in enumerate(_COUNTRIES.values()):
        rows = np.flatnonzero(country == code)
        zone[rows] = first_zone + _draw(rng, rows.size, list(tz.values()))
        first_zone += len(tz)
    day_index = np.arange(days)
    weekday = (start.day_of_week + day_index) % 7
    day_weights = np.where(
        weekday == 5, _WEEKEND_VOLUME[0], np.where(weekday == 6, _WEEKEND_VOLUME[1], 1.0)
    ) * (1.0 + 0.3 * day_index / days)
    day = _draw(rng, n, list(day_weights))
    hour = _draw(rng, n, list(_HOUR_WEIGHTS))
    local = start_ms + day * MS_DAY + hour * MS_HOUR + rng.integers(0, MS_HOUR, size=n)
    first_utc = local - grid.at(zone, local) * MS_MINUTE
    first_utc = local - grid.at(zone, first_utc) * MS_MINUTE
    order = np.argsort(first_utc, kind="stable")
    country, zone, first_utc = country[order], zone[order], first_utc[order]

    # --- latent attributes and behaviour propensities ---
    source = _draw(rng, n, [share for share, _ in _SOURCES.values()]).astype(np.int8)
    device = _draw(rng, n, [share for share, _ in _DEVICES.values()]).astype(np.int8)
    has_tz = rng.random(n) < TZ_SHARE
    engagement = rng.standard_normal(n)
    src_names = np.array(list(_SOURCES))
    dev_names = np.array(list(_DEVICES))
    desktop = device == 0
    n_sess = 1 + np.minimum(
        rng.poisson(1.5 * np.exp(0.5 * engagement - 0.125)), _MAX_SESSIONS - 1
    ).astype(np.int64)
    signup_sess = np.where((n_sess > 1) & (rng.random(n) < 0.2), 1, 0)
    same_day_intent = rng.random(n) < _sigmoid(-0.9 + 0.8 * engagement)
    demo_bump = np.select([src_names[source] == "google_ads", src_names[source] == "linkedin"],
                          [0.3, 0.2], 0.0)  # fmt: skip
    wants = {  # milestone kind: which leads have it (this order is the order within a session)
        "download_whitepaper": rng.random(n) < _sigmoid(-2.4 + 0.4 * engagement),
        "webinar_registered": rng.random(n)
        < _sigmoid(-3.1 + 0.4 * engagement + 0.8 * (src_names[source] == "email")),
        "signup": np.ones(n, dtype=bool),
        "demo_request": rng.random(n)
        < _sigmoid(-2.3 + 0.6 * engagement + demo_bump + 0.3 * desktop),
    }
    milestone_sess = {
        kind: signup_sess if kind == "signup" else rng.integers(0, n_sess) for kind in wants
    }
    pricing_rate = np.clip(0.07 * np.exp(0.45 * engagement), 0.005, 0.5)
    pages_mean = 1.0 + 1.5 * np.exp(0.35 * engagement - 0.06) * np.where(desktop, 1.2, 0.85)

    # --- sessions and their page views (milestones take the last pages of a session) ---
    sess_lead, sess_idx = _expand(n_sess)
    n_sessions = sess_lead.size
    sess_first = np.cumsum(n_sess) - n_sess
    base_pages = np.minimum(rng.geometric(1.0 / pages_mean[sess_lead]), 40)
    ms_lead = np.concatenate([np.flatnonzero(has) for has in wants.values()])
    ms_kind = np.concatenate(
        [np.full(int(has.sum()), k, dtype=np.int8) for k, has in enumerate(wants.values())]
    )
    ms_sess = np.concatenate(
        [sess_first[has] + milestone_sess[kind][has] for kind, has in wants.items()]
    )
    ms_order = np.lexsort((ms_kind, ms_sess))
    ms_lead, ms_kind, ms_sess = ms_lead[ms_order], ms_kind[ms_order], ms_sess[ms_order]
    ms_rank = np.arange(ms_sess.size) - np.searchsorted(ms_sess, ms_sess, side="left")
    pages = base_pages + np.bincount(ms_sess, minlength=n_sessions)
    pv_sess, pv_pos = _expand(pages)
    pv_lead = sess_lead[pv_sess]
    pv_first = np.cumsum(pages) - pages
    ms_pv = pv_first[ms_sess] + base_pages[ms_sess] + ms_rank

    dwell = np.clip(
        np.exp(np.log(45_000.0) + rng.standard_normal(pv_sess.size)), 3_000, _MAX_DWELL_MS
    ).astype(np.int64)
    elapsed = np.cumsum(dwell) - dwell
    elapsed -= elapsed[pv_first][pv_sess]
    duration = np.add.reduceat(dwell, pv_first)

    sess_start = np.empty(n_sessions, dtype=np.int64)
    sess_start[sess_first] = first_utc
    for j in range(1, int(n_sess.max())):
        rows = np.flatnonzero(n_sess > j)
        prev = sess_first[rows] + j - 1
        prev_start = sess_start[prev]
        prev_end = prev_start + duration[prev] + SESSION_GAP_MS
        m = rows.size
        soon = same_day_intent[rows] if j == 1 else rng.random(m) < 0.2
        soon_at = prev_end + 1_000 + rng.exponential(75 * MS_MINUTE, size=m).astype(np.int64)
        offset = grid.at(zone[rows], prev_start) * MS_MINUTE
        local_day = (prev_start + offset) // MS_DAY
        later_at = (
            (local_day + rng.geometric(0.35, size=m)) * MS_DAY
            + _draw(rng, m, list(_HOUR_WEIGHTS)) * MS_HOUR
            + rng.integers(0, MS_HOUR, size=m)
            - offset
        )
        later_at = np.maximum(later_at, prev_end + rng.integers(MS_MINUTE, 10 * MS_MINUTE, m))
        sess_start[prev + 1] = np.where(soon, soon_at, later_at)
    pv_time = sess_start[pv_sess] + elapsed

    # --- pages: browsing (pricing by propensity), return entries, landing, milestones ---
    path = _draw(rng, pv_sess.size, list(_page_distribution(_BROWSE))).astype(np.int16)
    path[rng.random(pv_sess.size) < pricing_rate[pv_lead]] = _PRICING
    entries = np.flatnonzero((pv_pos == 0) & (sess_idx[pv_sess] > 0))
    path[entries] = _draw(rng, entries.size, list(_page_distribution(_RETURN_ENTRY)))
    landing_pv = pv_first[sess_first]
    for code, name in enumerate(_SOURCES):
        rows = np.flatnonzero(source == code)
        path[landing_pv[rows]] = _draw(rng, rows.size, list(_page_distribution(_LANDING[name])))
    kind_names = list(wants)
    ms_path = np.full(ms_pv.size, _SIGNUP, dtype=np.int16)
    for kind, (pages_of_kind, fixed) in {
        "download_whitepaper": (_KIND_CODES["resource"], None),
        "webinar_registered": (_KIND_CODES["webinar"], None),
        "demo_request": (None, _DEMO),
    }.items():
        rows = np.flatnonzero(ms_kind == kind_names.index(kind))
        ms_path[rows] = fixed if pages_of_kind is None else rng.choice(pages_of_kind, rows.size)
    path[ms_pv] = ms_path
    ms_time = pv_time[ms_pv] + (rng.uniform(0.3, 0.9, ms_pv.size) * dwell[ms_pv]).astype(np.int64)

    # --- first touch: referrer, UTM parameters and click ids of the landing page ---
    first_ref, utm, click = _first_touch(rng, source, country)
    landing_urls, landing_code = _landing_urls(rng, path[landing_pv], utm, click)
    url = path.astype(np.int32)
    has_query = landing_code >= 0
    url[landing_pv[has_query]] = len(_PATHS) + landing_code[has_query]
    n_urls = len(_PATHS) + len(landing_urls)
    referrer = np.empty(pv_sess.size, dtype=np.int32)
    referrer[1:] = url[:-1]  # within a session: the previous page
    session_entry = pv_first
    return_ref = _draw(rng, n_sessions, list(_RETURN_REFERRERS.values()))
    return_ref_code = np.array([_REF.get(r, -1) for r in _RETURN_REFERRERS])[return_ref]
    local_google = _country_google_codes()[country[sess_lead]]
    return_ref_code = np.where(return_ref_code < 0, local_google, return_ref_code)
    referrer[session_entry] = n_urls + return_ref_code
    referrer[landing_pv] = n_urls + first_ref

    # --- devices, user agents and IP addresses (a second device for one later session) ---
    ua_strings, ua_device = _user_agent_pool()
    ua = _pick_user_agents(rng, dev_names[device], ua_strings, ua_device)
    second = (n_sess > 1) & (rng.random(n) < SECOND_DEVICE_SHARE)
    second_sess = sess_first + rng.integers(1, np.maximum(n_sess, 2))
    alt_device = np.array([_SECOND_DEVICE[d] for d in _DEVICES])[device]
    alt_ua = _pick_user_agents(rng, alt_device, ua_strings, ua_device)
    ip_ints = _draw_ips(rng, country)
    alt_ip_ints = _draw_ips(rng, country)
    ip_codes, ip_uniques = pd.factorize(np.concatenate([ip_ints, alt_ip_ints]))
    ip_strings = pd.Index(_format_ips(ip_uniques))
    ip, alt_ip = ip_codes[:n].astype(np.int32), ip_codes[n:].astype(np.int32)
    on_second = np.zeros(n_sessions, dtype=bool)
    on_second[second_sess[second]] = True
    pv_second = on_second[pv_sess]
    pv_ua = np.where(pv_second, alt_ua[pv_lead], ua[pv_lead])
    pv_ip = np.where(pv_second, alt_ip[pv_lead], ip[pv_lead])

    # --- the planted attributes, as the events show them ---
    first_local = first_utc + grid.at(zone, first_utc) * MS_MINUTE
    local_weekday = (first_local // MS_DAY + 3) % 7  # 1970-01-01 was a Thursday
    local_hour = first_local % MS_DAY // MS_HOUR
    weekend = local_weekday >= 5
    business = (local_hour >= BUSINESS_HOURS[0]) & (local_hour < BUSINESS_HOURS[1])
    second_start = sess_start[np.minimum(sess_first + 1, n_sessions - 1)]
    second_local = second_start + grid.at(zone, second_start) * MS_MINUTE
    returned = (n_sess > 1) & (second_local // MS_DAY == first_local // MS_DAY)
    pricing_views = np.bincount(pv_lead[path == _PRICING], minlength=n)
    demo = wants["demo_request"]

    logit = (
        RETURNED_EFFECT * returned
        + DEMO_EFFECT * demo
        + np.array([effect for _, effect in _SOURCES.values()])[source]
        + np.array([effect for _, effect in _DEVICES.values()])[device]
        + PRICING_EFFECT * (pricing_views >= PRICING_MIN_VIEWS)
        + WEEKEND_EFFECT * weekend
        + BUSINESS_HOURS_EFFECT * business
    )
    intercept = (
        DEFAULT_INTERCEPT if positive_rate is None else _solve_intercept(logit, positive_rate)
    )
    probability = _sigmoid(intercept + logit)
    converted = rng.random(n) < probability

    # --- outcome times: after every behaviour event ---
    last_seen = pv_time[pv_first[sess_first + n_sess - 1] + pages[sess_first + n_sess - 1] - 1]
    np.maximum.at(last_seen, ms_lead, ms_time)
    signup_at = np.empty(n, dtype=np.int64)
    is_signup = ms_kind == kind_names.index("signup")
    signup_at[ms_lead[is_signup]] = ms_time[is_signup]
    won_delay = np.clip(rng.lognormal(np.log(2.5 * MS_DAY), 1.1, n), 2 * MS_HOUR, 21 * MS_DAY)
    won_at = np.maximum(
        signup_at + won_delay.astype(np.int64),
        last_seen + rng.integers(20 * MS_MINUTE, 18 * MS_HOUR, size=n),
    )
    lost_at = last_seen + rng.integers(4 * MS_DAY, 40 * MS_DAY, size=n)
    outcome_at = np.where(converted, won_at, lost_at)

    # --- assemble the behaviour events, then the post-outcome events of converters ---
    parts = [
        _Part(pv_lead, pv_time, 0, path, url, referrer, pv_ua, pv_ip, None),
        _Part(
            ms_lead,
            ms_time,
            _milestone_events(kind_names)[ms_kind],
            path[ms_pv],
            url[ms_pv],
            referrer[ms_pv],
            pv_ua[ms_pv],
            pv_ip[ms_pv],
            None,
        ),
    ]
    utm_rows = landing_pv[utm[0] >= 0]  # UTM parameters: on the landing page view only
    if post_outcome and converted.any():
        parts.extend(_post_outcome(rng, np.flatnonzero(converted), outcome_at, ua, ip, n_urls))
    events = _assemble(
        rng, parts, pv_lead, utm_rows, utm, zone, has_tz, grid, landing_urls, ip_strings,
        ua_strings, first_id, width, n,
    )  # fmt: skip

    ids = _lead_ids(first_id, n, width)
    outcomes = pd.DataFrame(
        {
            "lead_id": ids,
            "converted": pd.Series(np.where(converted, "yes", "no"), dtype="str"),
            "outcome_at": _utc(outcome_at),
        }
    )
    zone_names = np.array(zones)
    truth = pd.DataFrame(
        {
            "lead_id": ids,
            "true_probability": probability,
            "source": pd.Series(src_names[source], dtype="str"),
            "device": pd.Series(dev_names[device], dtype="str"),
            "country": pd.Series(np.array(list(_COUNTRIES))[country], dtype="str"),
            "timezone": pd.Series(zone_names[zone], dtype="str"),
            "has_tz_offset": has_tz,
            "engagement": engagement,
            "sessions": n_sess,
            "second_device": second,
            "first_visit_at": _utc(first_utc),
            "first_visit_local": pd.Series(first_local.astype("datetime64[ms]")),
            "weekend_first_visit": weekend,
            "business_hours_first_visit": business,
            "returned_same_day": returned,
            "demo_request": demo,
            "pricing_views": pricing_views,
            "signup_at": _utc(signup_at),
        }
    )
    return DemoEvents(events=events, outcomes=outcomes, truth=truth)


def _milestone_events(kind_names: list[str]) -> np.ndarray:
    """Event code of each milestone kind."""
    return np.array([EVENT_NAMES.index(name) for name in kind_names], dtype=np.int8)


@dataclass
class _Part:
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


def _post_outcome(
    rng: np.random.Generator,
    won: np.ndarray,
    outcome_at: np.ndarray,
    ua: np.ndarray,
    ip: np.ndarray,
    n_urls: int,
) -> list[_Part]:
    """Onboarding, app page views and the first paid invoice, strictly after the outcome."""
    m = won.size
    onboarding = outcome_at[won] + rng.integers(3 * MS_MINUTE, 6 * MS_HOUR, size=m)
    app_pages = 2 + np.minimum(rng.poisson(2.5, size=m), 18)
    owner, _ = _expand(app_pages)
    dwell = np.clip(np.exp(np.log(40_000.0) + rng.standard_normal(owner.size)), 2_000, 900_000)
    dwell = dwell.astype(np.int64)
    first = np.cumsum(app_pages) - app_pages
    elapsed = np.cumsum(dwell) - dwell
    elapsed -= elapsed[first][owner]
    app_time = onboarding[owner] + rng.integers(2_000, 40_000, size=owner.size) + elapsed
    app_path = rng.choice(_APP_CODES[1:], size=owner.size).astype(np.int16)
    app_ref = np.empty(owner.size, dtype=np.int32)
    app_ref[1:] = app_path[:-1]
    app_ref[first] = _ONBOARDING
    invoice = outcome_at[won] + rng.integers(MS_DAY, 14 * MS_DAY, size=m)
    lead = won[owner]
    return [
        _Part(won, onboarding, EVENT_NAMES.index("onboarding_started"), _ONBOARDING,
              _ONBOARDING, n_urls + _REF[""], ua[won], ip[won], None),
        _Part(lead, app_time, 0, app_path, app_path.astype(np.int32), app_ref, ua[lead],
              ip[lead], None),
        _Part(won, invoice, EVENT_NAMES.index("invoice_paid"), -1, -1, -1, -1, -1,
              np.zeros(m, dtype=bool)),
    ]  # fmt: skip


def _assemble(
    rng: np.random.Generator,
    parts: list[_Part],
    pv_lead: np.ndarray,
    utm_rows: np.ndarray,
    utm: tuple[np.ndarray, np.ndarray, np.ndarray],
    zone: np.ndarray,
    has_tz: np.ndarray,
    grid: _OffsetGrid,
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

    urls = pd.Index([SITE + p for p in _PATHS] + list(landing_urls), dtype="str")
    referrers = urls.append(pd.Index(list(_REFERRERS), dtype="str"))
    ids = _lead_ids(first_id, n, width)
    return pd.DataFrame(
        {
            "event_id": _event_ids(rng, time.size),
            "lead_id": pd.Series(pa.array(ids).take(pa.array(lead)), dtype="str"),
            "timestamp": _utc(time),
            "event": _categorical(column("event", np.int8)[order], EVENT_NAMES),
            "url": _categorical(column("url", np.int32)[order], urls),
            "page_title": _categorical(column("path", np.int16)[order], _TITLES),
            "referrer": _categorical(column("referrer", np.int32)[order], referrers),
            "utm_source": _categorical(utm_codes[0], _UTM_SOURCES),
            "utm_medium": _categorical(utm_codes[1], _UTM_MEDIUMS),
            "utm_campaign": _categorical(utm_codes[2], _UTM_CAMPAIGNS),
            "user_agent": _categorical(column("ua", np.int16)[order], ua_strings),
            "ip": _categorical(column("ip", np.int32)[order], ip_strings),
            "tz_offset_minutes": offset,
        }
    )


def _first_touch(
    rng: np.random.Generator, source: np.ndarray, country: np.ndarray
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """Referrer code, UTM codes (source, medium, campaign; -1 none) and click-id kind of the
    first page view of every lead."""
    n = source.size
    referrer = np.zeros(n, dtype=np.int32)
    utm = tuple(np.full(n, -1, dtype=np.int8) for _ in range(3))
    click = np.zeros(n, dtype=np.int8)
    local_google = _country_google_codes()[country]
    for code, name in enumerate(_SOURCES):
        rows = np.flatnonzero(source == code)
        if name == "partner":
            partner = rng.integers(0, len(_PARTNERS), size=rows.size)
            referrer[rows] = np.array([_REF[url] for _, url in _PARTNERS])[partner]
        else:
            choices = _REF_BY_SOURCE[name]
            picked = _draw(rng, rows.size, list(choices.values()))
            codes = np.array([_REF.get(url, -1) for url in choices])[picked]
            referrer[rows] = np.where(codes < 0, local_google[rows], codes)
        if name in _CAMPAIGNS:
            share, utm_source, medium, campaigns = _CAMPAIGNS[name]
            chosen = rng.random(rows.size) < share
            tagged = rows[chosen]
            if name == "partner":
                partner_utm = np.array([_UTM_SOURCES.index(p) for p, _ in _PARTNERS])
                utm[0][tagged] = partner_utm[partner[chosen]]
            else:
                utm[0][tagged] = _UTM_SOURCES.index(utm_source)
            utm[1][tagged] = _UTM_MEDIUMS.index(medium)
            campaign = np.array([_UTM_CAMPAIGNS.index(c) for c in campaigns], dtype=np.int8)
            utm[2][tagged] = campaign[rng.integers(0, campaign.size, size=tagged.size)]
        if name == "google_ads":
            click[rows] = 1
        elif name == "facebook":
            click[rows] = 2
    return referrer, utm, click


def _landing_urls(
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
        0: np.array([*_UTM_SOURCES, ""], dtype=object),
        1: np.array([*_UTM_MEDIUMS, ""], dtype=object),
        2: np.array([*_UTM_CAMPAIGNS, ""], dtype=object),
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
    base = np.array([SITE + p for p in _PATHS], dtype=object)[landing_path[rows]]
    full = base + "?" + query
    uniques_codes, uniques = pd.factorize(full)
    codes[rows] = uniques_codes
    return np.asarray(uniques, dtype=object), codes


def _random_tokens(rng: np.random.Generator, m: int, length: int) -> np.ndarray:
    """URL-safe random tokens (object array of str)."""
    letters = _ALPHABET[rng.integers(0, _ALPHABET.size, size=(m, length))]
    return np.ascontiguousarray(letters).view(f"S{length}").ravel().astype(str).astype(object)


def _country_google_codes() -> np.ndarray:
    """Referrer code of each country's Google domain (google.com for the US)."""
    return np.array(
        [_REF[_COUNTRY_GOOGLE.get(c, "https://www.google.com/")] for c in _COUNTRIES],
        dtype=np.int32,
    )


def _user_agent_pool() -> tuple[list[str], np.ndarray]:
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


def _pick_user_agents(
    rng: np.random.Generator, device: np.ndarray, strings: list[str], devices: np.ndarray
) -> np.ndarray:
    """A user-agent code per lead, drawn within its device type by template share."""
    out = np.empty(device.size, dtype=np.int16)
    for name, templates in _USER_AGENTS.items():
        rows = np.flatnonzero(device == name)
        codes = np.flatnonzero(devices == name)
        weights = [share / len(versions) for _, versions, share in templates for _ in versions]
        out[rows] = codes[_draw(rng, rows.size, weights)]
    return out


def _draw_ips(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """An IPv4 address (as an integer) from a consumer block of each lead's country."""
    out = np.empty(country.size, dtype=np.int64)
    for code, (_, _, blocks) in enumerate(_COUNTRIES.values()):
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


def _format_ips(addresses: np.ndarray) -> pd.Series:
    """Dotted-quad strings of IPv4 addresses given as integers."""
    octets = [
        pc.cast(pa.array((addresses >> shift) & 255), pa.string()) for shift in (24, 16, 8, 0)
    ]
    return pd.Series(pc.binary_join_element_wise(*octets, "."), dtype="str")


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


# --- small helpers -------------------------------------------------------------------------------


def _expand(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Owner index and position within the owner of ``sizes.sum()`` items."""
    owner = np.repeat(np.arange(sizes.size), sizes)
    first = np.cumsum(sizes) - sizes
    return owner, np.arange(owner.size) - first[owner]


def _draw(rng: np.random.Generator, n: int, shares: Sequence[float]) -> np.ndarray:
    """Codes 0..k-1 drawn by share (inverse CDF: fast for millions of draws)."""
    p = np.cumsum(np.asarray(shares, dtype=float))
    return np.minimum(np.searchsorted(p / p[-1], rng.random(n), side="right"), p.size - 1)


def _categorical(codes: np.ndarray, categories: Sequence[str] | pd.Index) -> pd.Categorical:
    index = categories if isinstance(categories, pd.Index) else pd.Index(categories, dtype="str")
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(index))


def _utc(ms: np.ndarray) -> pd.Series:
    return (
        pd.Series(ms.astype("datetime64[ms]")).dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
    )


def _lead_ids(first: int, n: int, width: int) -> pd.Series:
    numbers = pd.Series(np.arange(first, first + n), dtype=np.int64).astype("str")
    return "u_" + numbers.str.zfill(width)


# --- writing -------------------------------------------------------------------------------------

_MESSY_KINDS = ("broken_json", "missing_lead_id", "unreadable_timestamp", "duplicate_event")
_MESSY_SHARE = 0.001
_MESSY_MIN = 5
_JSONL_CHUNK = 500_000
_PARQUET_ROWS = 1_000_000


def _messy_counts(events: int) -> dict[str, int]:
    total = max(_MESSY_MIN, round(_MESSY_SHARE * events))
    base, extra = divmod(total, len(_MESSY_KINDS))
    return {kind: base + (i < extra) for i, kind in enumerate(_MESSY_KINDS)}


def _messy_plan(
    rng: np.random.Generator, events: int, counts: Mapping[str, int]
) -> dict[int, list[tuple[str, str]]]:
    """Row → malformed lines (kind, new event id) to write right after that row."""
    kinds = [kind for kind, count in counts.items() for _ in range(count)]
    rows = rng.choice(events, size=len(kinds), replace=len(kinds) > events)
    plan: dict[int, list[tuple[str, str]]] = {}
    for row, kind in zip(rows.tolist(), rng.permutation(kinds).tolist(), strict=True):
        new_id = str(uuid.UUID(bytes=rng.bytes(16), version=4))
        plan.setdefault(row, []).append((kind, new_id))
    return plan


def _messy_line(line: str, kind: str, new_id: str) -> str:
    if kind == "broken_json":
        return line[: len(line) // 2] + "\n"
    if kind == "duplicate_event":
        return line
    record = json.loads(line)
    record["event_id"] = new_id
    if kind == "missing_lead_id":
        del record["lead_id"]
    else:
        record["timestamp"] = "yesterday-ish"
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def _json_fragments(name: str, values: Sequence[object]) -> pa.Array:
    """``"name":value`` for every category, then ``"name":null`` (code -1 → last)."""
    key = json.dumps(name)
    texts = [f"{key}:{json.dumps(v, ensure_ascii=False)}" for v in values]
    return pa.array([*texts, f"{key}:null"], type=pa.string())


def _write_jsonl(
    events: pd.DataFrame, path: Path, plan: Mapping[int, list[tuple[str, str]]] | None
) -> None:
    """JSON Lines with the keys of :data:`EVENT_COLUMNS` in order, built column-wise with
    pyarrow (no per-row Python), plus the malformed lines of ``plan``."""
    lookups: dict[str, tuple[np.ndarray, pa.Array]] = {}
    for name in EVENT_COLUMNS[3:]:
        values = events[name]
        if isinstance(values.dtype, pd.CategoricalDtype):
            codes = values.cat.codes.to_numpy()
            cats = list(values.cat.categories)
        else:
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
            cats = [int(v) if float(v).is_integer() else float(v) for v in uniques]
        codes = np.where(codes < 0, len(cats), codes)
        lookups[name] = (codes, _json_fragments(name, cats))
    event_ids = _arrow_strings(events["event_id"])
    lead_ids = _arrow_strings(events["lead_id"])
    stamps = events["timestamp"].dt.tz_localize(None).to_numpy().astype("datetime64[ms]")
    rows = sorted(plan) if plan else []
    with path.open("wb") as handle:
        for lo in range(0, len(events), _JSONL_CHUNK):
            hi = min(len(events), lo + _JSONL_CHUNK)
            pieces: list[object] = [
                '{"event_id":"', event_ids[lo:hi].cast(pa.string()), '","lead_id":"',
                lead_ids[lo:hi].cast(pa.string()), '","timestamp":"',
                pa.array(np.datetime_as_string(stamps[lo:hi], unit="ms")), 'Z"',
            ]  # fmt: skip
            for codes, fragments in lookups.values():
                pieces += [",", fragments.take(pa.array(codes[lo:hi]))]
            pieces.append("}\n")
            lines = pc.binary_join_element_wise(*pieces, "")
            if isinstance(lines, pa.ChunkedArray):
                lines = lines.combine_chunks()
            offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[: hi - lo + 1]
            data = memoryview(lines.buffers()[2])
            cursor = 0
            for row in rows[np.searchsorted(rows, lo) : np.searchsorted(rows, hi)]:
                end = int(offsets[row - lo + 1])
                handle.write(data[offsets[cursor] : end])
                cursor = row - lo + 1
                line = lines[row - lo].as_py()
                for kind, new_id in plan[row]:
                    handle.write(_messy_line(line, kind, new_id).encode("utf-8"))
            handle.write(data[offsets[cursor] : offsets[hi - lo]])


def _write_parquet(events: pd.DataFrame, path: Path) -> None:
    """Parquet with plain string columns (dictionary-encoded in the file, zstd), written in
    row groups so that memory stays bounded: readers get ``str`` columns back, not
    categoricals with a million categories."""
    dictionaries = {
        name: pa.array(values.cat.categories, type=pa.string())
        for name, values in events.items()
        if isinstance(values.dtype, pd.CategoricalDtype)
    }
    types = {"timestamp": pa.timestamp("ns", tz="UTC"), "tz_offset_minutes": pa.float64()}
    schema = pa.schema([(name, types.get(name, pa.string())) for name in events.columns])
    dictionary_columns = [name for name in events.columns if name != "event_id"]
    with pq.ParquetWriter(
        path, schema, compression="zstd", use_dictionary=dictionary_columns
    ) as writer:
        for lo in range(0, max(1, len(events)), _PARQUET_ROWS):
            chunk = events.iloc[lo : lo + _PARQUET_ROWS]
            columns = []
            for name, values in chunk.items():
                if name in dictionaries:
                    codes = values.cat.codes.to_numpy()
                    columns.append(dictionaries[name].take(pa.array(codes, mask=codes < 0)))
                else:
                    columns.append(pa.array(values, type=schema.field(name).type))
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))


def _arrow_strings(values: pd.Series) -> pa.Array:
    """The strings of a column as one pyarrow array (large_string: no 2 GB limit)."""
    array = pa.array(values, type=pa.large_string())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV with times as ISO 8601 text (UTC ones with ``Z``), written by pyarrow (fast)."""
    columns = {}
    for name, values in frame.items():
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            stamps = values.dt.tz_localize(None).to_numpy().astype("datetime64[ms]")
            columns[name] = pa.array(np.datetime_as_string(stamps, unit="ms", timezone="UTC"))
        elif pd.api.types.is_datetime64_dtype(values.dtype):
            stamps = values.to_numpy().astype("datetime64[ms]")
            columns[name] = pa.array(np.datetime_as_string(stamps, unit="ms"))
        else:
            columns[name] = pa.array(values)
    pa_csv.write_csv(pa.table(columns), path)
