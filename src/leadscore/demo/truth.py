"""The planted model of the demo web funnel: what converts, the outcomes, and the truth.

The outcome of every demo lead is drawn from a known logistic model of attributes that can
be recovered from its events — first-touch source, device, returning the same day, a demo
request, viewing the pricing page twice, a first visit at the weekend or in business hours
(local time) — and of its CRM fields (seniority, company size, industry, an offline lead
source: :mod:`~leadscore.demo.crm`), so feature pipelines and models can be checked
against ground truth. This module holds the behaviour effects (the table is in
:mod:`leadscore.demo.events`), reads the attributes off the generated behaviour the way
the events show them (:func:`observe`), draws who converts (:func:`draw_outcomes`) and when
the CRM records it (:func:`outcome_times`: always after the lead's last behaviour event),
and builds the ``outcomes`` and ``truth`` tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadscore.demo.common import (
    MS_DAY,
    MS_HOUR,
    MS_MINUTE,
    sigmoid,
    solve_intercept,
    utc,
)
from leadscore.demo.population import COUNTRIES, ZONES, OffsetGrid

__all__ = [
    "DEVICES",
    "SOURCES",
    "TRUTH_COLUMNS",
    "Planted",
    "draw_outcomes",
    "observe",
    "outcome_table",
    "outcome_times",
    "truth_table",
]

TRUTH_COLUMNS: tuple[str, ...] = (
    "lead_id", "true_probability", "source", "device", "country", "timezone",
    "has_tz_offset", "engagement", "sessions", "second_device", "first_visit_at",
    "first_visit_local", "weekend_first_visit", "business_hours_first_visit",
    "returned_same_day", "demo_request", "pricing_views", "signup_at", "industry",
    "company_size", "job_title", "seniority", "crm_lead_source", "crm_country", "converted",
)  # fmt: skip
"""Columns of ``DemoEvents.truth``."""

# --- planted effects -----------------------------------------------------------------------------

SOURCES: dict[str, tuple[float, float]] = {  # first-touch source: (share, logit effect)
    "google_organic": (0.26, 0.2),
    "google_ads": (0.14, 0.3),
    "facebook": (0.18, -0.5),
    "direct": (0.15, 0.0),
    "email": (0.10, 0.7),
    "linkedin": (0.08, 0.5),
    "partner": (0.08, 0.4),
    "medium": (0.01, 1.6),
}
DEVICES: dict[str, tuple[float, float]] = {  # device type: (share, logit effect)
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
DEFAULT_INTERCEPT = -3.73  # ≈ 12 % positives with the shares, behaviour and CRM fields


@dataclass(frozen=True, eq=False)
class Planted:
    """Each lead's planted attributes as its events show them (arrays, one item per lead)."""

    first_local: np.ndarray  # first visit, local wall clock in milliseconds
    weekend: np.ndarray
    business: np.ndarray
    returned: np.ndarray
    demo: np.ndarray
    pricing_views: np.ndarray


def observe(
    grid: OffsetGrid,
    zone: np.ndarray,
    first_utc: np.ndarray,
    second_start: np.ndarray,
    sessions: np.ndarray,
    demo: np.ndarray,
    pricing_views: np.ndarray,
) -> Planted:
    """The planted attributes from the first visit, the start of the second session (any
    value for leads with one session), the number of sessions, whether the lead requested a
    demo and how often it viewed the pricing page."""
    first_local = first_utc + grid.at(zone, first_utc) * MS_MINUTE
    local_weekday = (first_local // MS_DAY + 3) % 7  # 1970-01-01 was a Thursday
    local_hour = first_local % MS_DAY // MS_HOUR
    weekend = local_weekday >= 5
    business = (local_hour >= BUSINESS_HOURS[0]) & (local_hour < BUSINESS_HOURS[1])
    second_local = second_start + grid.at(zone, second_start) * MS_MINUTE
    returned = (sessions > 1) & (second_local // MS_DAY == first_local // MS_DAY)
    return Planted(first_local, weekend, business, returned, demo, pricing_views)


def draw_outcomes(
    rng: np.random.Generator,
    planted: Planted,
    source: np.ndarray,
    device: np.ndarray,
    positive_rate: float | None,
    crm_logit: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """True probability and outcome (converted or not) of every lead; ``crm_logit`` is the
    CRM fields' part of the logit (:mod:`~leadscore.demo.crm`)."""
    logit = crm_logit + (
        RETURNED_EFFECT * planted.returned
        + DEMO_EFFECT * planted.demo
        + np.array([effect for _, effect in SOURCES.values()])[source]
        + np.array([effect for _, effect in DEVICES.values()])[device]
        + PRICING_EFFECT * (planted.pricing_views >= PRICING_MIN_VIEWS)
        + WEEKEND_EFFECT * planted.weekend
        + BUSINESS_HOURS_EFFECT * planted.business
    )
    intercept = (
        DEFAULT_INTERCEPT if positive_rate is None else solve_intercept(logit, positive_rate)
    )
    probability = sigmoid(intercept + logit)
    converted = rng.random(probability.size) < probability
    return probability, converted


def outcome_times(
    rng: np.random.Generator,
    converted: np.ndarray,
    signup_at: np.ndarray,
    last_seen: np.ndarray,
) -> np.ndarray:
    """When the CRM records each outcome (UTC milliseconds), after every behaviour event:
    converters are won hours to three weeks after signing up (and after their last visit);
    lost leads are marked lost 4–40 days after their last activity."""
    n = converted.size
    won_delay = np.clip(rng.lognormal(np.log(2.5 * MS_DAY), 1.1, n), 2 * MS_HOUR, 21 * MS_DAY)
    won_at = np.maximum(
        signup_at + won_delay.astype(np.int64),
        last_seen + rng.integers(20 * MS_MINUTE, 18 * MS_HOUR, size=n),
    )
    lost_at = last_seen + rng.integers(4 * MS_DAY, 40 * MS_DAY, size=n)
    return np.where(converted, won_at, lost_at)


def outcome_table(ids: pd.Series, converted: np.ndarray, outcome_at: np.ndarray) -> pd.DataFrame:
    """``lead_id``, ``converted`` (``"yes"``/``"no"``) and ``outcome_at`` (tz-aware UTC)."""
    return pd.DataFrame(
        {
            "lead_id": ids,
            "converted": pd.Series(np.where(converted, "yes", "no"), dtype="str"),
            "outcome_at": utc(outcome_at),
        }
    )


def truth_table(
    ids: pd.Series,
    probability: np.ndarray,
    planted: Planted,
    *,
    source: np.ndarray,
    device: np.ndarray,
    country: np.ndarray,
    zone: np.ndarray,
    has_tz: np.ndarray,
    engagement: np.ndarray,
    sessions: np.ndarray,
    second_device: np.ndarray,
    first_utc: np.ndarray,
    signup_at: np.ndarray,
    crm: pd.DataFrame,
    converted: np.ndarray,
) -> pd.DataFrame:
    """The truth table (:data:`TRUTH_COLUMNS`): the probability each outcome was drawn with,
    the latent attributes it was computed from (``crm``: the CRM rows written at sign-up,
    in lead order) and the outcome drawn (fresh leads too)."""
    frame = pd.DataFrame(
        {
            "lead_id": ids,
            "true_probability": probability,
            "source": pd.Series(np.array(list(SOURCES))[source], dtype="str"),
            "device": pd.Series(np.array(list(DEVICES))[device], dtype="str"),
            "country": pd.Series(np.array(list(COUNTRIES))[country], dtype="str"),
            "timezone": pd.Series(np.array(ZONES)[zone], dtype="str"),
            "has_tz_offset": has_tz,
            "engagement": engagement,
            "sessions": sessions,
            "second_device": second_device,
            "first_visit_at": utc(first_utc),
            "first_visit_local": pd.Series(planted.first_local.astype("datetime64[ms]")),
            "weekend_first_visit": planted.weekend,
            "business_hours_first_visit": planted.business,
            "returned_same_day": planted.returned,
            "demo_request": planted.demo,
            "pricing_views": planted.pricing_views,
            "signup_at": utc(signup_at),
        }
    )
    for column in ("industry", "company_size", "job_title", "seniority"):
        frame[column] = crm[column].to_numpy()
    frame["crm_lead_source"] = crm["lead_source"].to_numpy()
    frame["crm_country"] = crm["country"].to_numpy()
    frame["converted"] = converted
    return frame
