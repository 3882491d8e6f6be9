"""Seeded demo data with known (planted) effects, kept apart from the real data sources.

Two generators give the demo, the tests and the benchmarks data whose ground truth is
known, so that feature pipelines, the audit and the models can be checked against it:

* :mod:`.leads` — a CRM-style lead table, one row per lead, with a deliberate target leak
  (:func:`generate_leads`, :func:`write_demo`);
* :mod:`.events` — a software company's web funnel as raw tracking events, a CRM table,
  outcomes and the truth (:func:`generate_events`, :func:`write_demo_events`), built from
  :mod:`.funnel` (behaviour), :mod:`.population` (countries, time zones, arrivals),
  :mod:`.devices` (user agents), :mod:`.site` (pages), :mod:`.traffic` (referrers and
  campaigns), :mod:`.truth` (planted effects and outcomes), :mod:`.crm` (the CRM table
  with its own planted effects and post-outcome changes), :mod:`.table` (the event
  table) and :mod:`.files` (writing);
* :mod:`.common` — argument checks, arrivals and the logistic link both share.

The same seed gives the same data, bit for bit. Layer 1 (beside :mod:`leadscore.data`):
nothing here imports features, models or scoring.
"""

from leadscore.demo.events import (
    CRM_COLUMNS,
    EVENT_COLUMNS,
    EVENT_NAMES,
    POST_OUTCOME_EVENTS,
    SITE,
    TRUTH_COLUMNS,
    DemoEvents,
    generate_events,
    write_demo_events,
)
from leadscore.demo.leads import (
    FEATURE_COLUMNS,
    TABLE_COLUMNS,
    DemoLeads,
    generate_leads,
    write_demo,
)

__all__ = [
    "CRM_COLUMNS",
    "EVENT_COLUMNS",
    "EVENT_NAMES",
    "FEATURE_COLUMNS",
    "POST_OUTCOME_EVENTS",
    "SITE",
    "TABLE_COLUMNS",
    "TRUTH_COLUMNS",
    "DemoEvents",
    "DemoLeads",
    "generate_events",
    "generate_leads",
    "write_demo",
    "write_demo_events",
]
