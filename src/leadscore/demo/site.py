"""The demo company's website: every page with its path, title and kind, and where people go.

Acme Analytics' site has a home page, product, pricing, demo and sign-up pages, feature
pages, 30 blog posts, case studies, docs, webinars, whitepapers and, for customers only, the
app (``/app/...``). Page titles are written as a real site's are, so a feature pipeline can
learn content topics from the words of the pages a lead viewed. The distributions here say
which kinds of page people browse (:data:`BROWSE`, blog posts by popularity), where a
returning visitor enters (:data:`RETURN_ENTRY`) and where each traffic source lands
(:data:`LANDING`); the pricing page is drawn apart, with a per-lead propensity, because
viewing it twice is one of the planted effects.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = [
    "APP_CODES",
    "BROWSE",
    "DEMO",
    "KIND_CODES",
    "LANDING",
    "ONBOARDING",
    "PATHS",
    "PRICING",
    "RETURN_ENTRY",
    "SIGNUP",
    "SITE",
    "TITLES",
    "page_distribution",
]

SITE = "https://www.acme-analytics.com"
"""The site's origin: every URL of the events starts with it."""

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


PATHS, TITLES, _KINDS = _build_pages()
KIND_CODES: dict[str, np.ndarray] = {
    kind: np.flatnonzero(np.array(_KINDS) == kind) for kind in dict.fromkeys(_KINDS)
}
_PAGE = {path: code for code, path in enumerate(PATHS)}
PRICING, SIGNUP, DEMO = _PAGE["/pricing"], _PAGE["/signup"], _PAGE["/demo"]
APP_CODES = KIND_CODES["app"]
ONBOARDING = _PAGE["/app/onboarding"]

# Weight of each kind of page (shared evenly, blog posts by popularity) in general browsing;
# the pricing page is drawn separately with a per-lead propensity.
BROWSE = {"home": 0.08, "product": 0.10, "feature": 0.14, "demo": 0.02, "blog": 0.22,
           "customer": 0.07, "doc": 0.10, "contact": 0.02, "careers": 0.015, "about": 0.03,
           "security": 0.02, "integrations": 0.04, "webinar": 0.02, "resource": 0.02}  # fmt: skip
RETURN_ENTRY = {"home": 0.35, "pricing": 0.15, "blog": 0.15, "product": 0.10, "doc": 0.10,
                 "feature": 0.08, "customer": 0.04, "demo": 0.03}  # fmt: skip
LANDING: dict[str, dict[str, float]] = {
    "google_organic": {"blog": 0.55, "home": 0.25, "feature": 0.10, "doc": 0.10},
    "google_ads": {"product": 0.35, "pricing": 0.25, "feature": 0.25, "demo": 0.15},
    "facebook": {"home": 0.40, "product": 0.30, "blog": 0.30},
    "direct": {"home": 0.75, "pricing": 0.10, "product": 0.10, "doc": 0.05},
    "email": {"blog": 0.60, "feature": 0.20, "webinar": 0.20},
    "linkedin": {"blog": 0.40, "customer": 0.30, "product": 0.30},
    "partner": {"product": 0.45, "integrations": 0.35, "customer": 0.20},
    "medium": {"blog": 0.60, "home": 0.20, "feature": 0.20},
}


def page_distribution(kinds: Mapping[str, float]) -> np.ndarray:
    """Probability of every page given the weight of each kind of page."""
    p = np.zeros(len(PATHS))
    for kind, weight in kinds.items():
        codes = KIND_CODES[kind]
        within = (
            1.0 / np.arange(1, codes.size + 1) ** 0.8 if kind == "blog" else np.ones(codes.size)
        )
        p[codes] += weight * within / within.sum()
    return p / p.sum()
