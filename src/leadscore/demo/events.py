"""A seeded, realistic web funnel at the event level, with known (planted) effects.

:func:`generate_events` builds what a tracking pipeline (Segment, Mixpanel, server logs)
exports for a software company's website: one row per event — page views with full URLs,
page titles, referrers, UTM parameters, user agents, IP addresses and the client's UTC
offset — plus the milestone events of a lead (``signup``, ``demo_request``,
``download_whitepaper``, ``webinar_registered``). The outcome of every lead is drawn from a
known logistic model of attributes that can be *recovered from the events* and of the
lead's CRM fields (industry, company size, seniority, the CRM's lead source:
``DemoEvents.crm``), so feature pipelines and models can be checked against ground truth
(``DemoEvents.truth``). :func:`write_demo_events` writes a labelled history, the events of
fresh leads to score, both CRM tables and the truth as files (JSON Lines or Parquet, CSV).

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

The CRM fields add their own effects (:mod:`~leadscore.demo.crm`): seniority (Student
−1.2 … VP +0.9), company size (1-10 −0.6 … 201-1000 +0.7), industry (Education −0.6 …
Software +0.5) and a lead source only the CRM knows (met at an event +0.8, sales outreach
−0.4). They are drawn independently of the behaviour, so neither source alone ranks the
leads as well as both together.

The intercept is ``-3.73`` (about 12 % positives) unless ``positive_rate`` is given, in
which case it is solved so that the mean true probability equals ``positive_rate``.
Country, whitepaper downloads, webinar registrations, the number of sessions and pages and
the browser have **no direct effect** (they correlate with the outcome only through the
engagement level or not at all); nor do the CRM's job title (beyond its seniority),
country and status.

Timing and leakage
------------------
Every behaviour event of a lead happens before its ``outcome_at``, and its CRM row is
written at its sign-up. With ``post_outcome_events=True`` about a third of the leads also
have a CRM row written after the outcome (``status`` closed won or lost; a won buyer's
seniority raised to Director or VP): a join that takes each lead's latest CRM row instead
of its row as of the outcome learns the answer. Converters are won some
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

Where the parts live
--------------------
This module is the event demo's public face. The behaviour (sessions, pages, milestones,
timing) is :mod:`~leadscore.demo.funnel`; who visits and when,
:mod:`~leadscore.demo.population`; devices and user agents, :mod:`~leadscore.demo.devices`;
the pages, :mod:`~leadscore.demo.site`; referrers, UTM parameters and click ids,
:mod:`~leadscore.demo.traffic`; the planted effects, outcomes and truth,
:mod:`~leadscore.demo.truth`; the CRM table, :mod:`~leadscore.demo.crm`; the event table,
:mod:`~leadscore.demo.table`; the files, :mod:`~leadscore.demo.files`.

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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from leadscore.demo.common import check_count, check_flag, check_rate, check_seed, check_start
from leadscore.demo.crm import CRM_COLUMNS
from leadscore.demo.dictionary import write_dictionary
from leadscore.demo.files import (
    MESSY_KINDS,
    messy_counts,
    messy_plan,
    write_csv,
    write_jsonl,
    write_parquet,
)
from leadscore.demo.funnel import simulate
from leadscore.demo.site import SITE
from leadscore.demo.table import EVENT_COLUMNS, EVENT_NAMES, POST_OUTCOME_EVENTS
from leadscore.demo.truth import TRUTH_COLUMNS
from leadscore.errors import DataError

__all__ = [
    "CRM_COLUMNS",
    "EVENT_COLUMNS",
    "EVENT_NAMES",
    "POST_OUTCOME_EVENTS",
    "SITE",
    "TRUTH_COLUMNS",
    "DemoEvents",
    "generate_events",
    "write_demo_events",
]

DEFAULT_START = "2026-01-05"
DEFAULT_DAYS = 60


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
        ``lead_id``, ``true_probability``, the latent attributes it was computed from and
        the outcome drawn (:data:`TRUTH_COLUMNS`).
    crm:
        The CRM table (:data:`CRM_COLUMNS`): one row per lead written at its sign-up, and
        for a share of leads (with ``post_outcome_events``) a second one written after the
        outcome; sorted by ``lead_id`` and ``updated_at`` (tz-aware UTC).
    """

    events: pd.DataFrame
    outcomes: pd.DataFrame
    truth: pd.DataFrame
    crm: pd.DataFrame

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
    attributes) and the CRM fields do not depend on ``positive_rate``; only which leads
    convert does — and so the outcome times, the post-outcome events and CRM changes, and
    the random ``event_id`` values. Fully
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
        outcome of converters, and the CRM rows changed after the outcome.

    Returns
    -------
    DemoEvents
        The events, the outcomes, the ground truth and the CRM table.

    Example
    -------
    >>> demo = generate_events(2000, seed=1, positive_rate=0.05)
    >>> round(float(demo.truth["true_probability"].mean()), 3)
    0.05
    >>> 8 <= demo.events_per_lead <= 12
    True
    """
    leads = check_count("leads", leads)
    days = check_count("days", days)
    seed = check_seed(seed)
    start_day = check_start(start)
    positive_rate = check_rate(positive_rate)
    post_outcome_events = check_flag("post_outcome_events", post_outcome_events)
    width = max(6, len(str(leads)))
    frames = simulate(leads, seed, 0, start_day, days, positive_rate, post_outcome_events, 1, width)
    return DemoEvents(*frames)


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
    * ``crm.csv``: the CRM table of the history (:data:`CRM_COLUMNS`): each lead's row
      written at its sign-up (``updated_at``) and, for about a third of them, a row changed
      after the outcome (``status`` closed won or lost, a won buyer's seniority) that a
      point-in-time join must leave out.
    * ``new_crm.csv``: the fresh leads' CRM rows (one each, at sign-up), kept apart as their
      events are: scoring with ``--leads`` also scores CRM leads without events.
    * ``truth.csv``: the truth of both sets of leads (who converted too: the fresh leads'
      outcomes, for closing the loop).
    * ``events_manifest.json``: counts of leads, events and lines, and of the malformed lines.
    * ``dictionary.csv``: what each column of the lead table built from these files means
      (:mod:`leadscore.demo.dictionary`), for ``leadscore train --dictionary``.

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
        Paths by name: ``"events"``, ``"outcomes"``, ``"new_events"``, ``"crm"``,
        ``"new_crm"``, ``"truth"``, ``"manifest"`` and ``"dictionary"``.

    Example
    -------
    >>> paths = write_demo_events(Path("demo"), leads=200, new_leads=50)
    >>> sorted(paths)
    ['crm', 'dictionary', 'events', 'manifest', 'new_crm', 'new_events', 'outcomes', 'truth']
    """
    leads = check_count("leads", leads)
    new_leads = check_count("new_leads", new_leads)
    seed = check_seed(seed)
    days = check_count("days", days)
    messy = check_flag("messy", messy)
    if fmt not in ("jsonl", "parquet"):
        raise DataError(f"fmt must be 'jsonl' or 'parquet', got {fmt!r}")
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise DataError(f"directory: {directory} exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True)

    start = check_start(DEFAULT_START)
    width = max(6, len(str(leads + new_leads)))
    history = DemoEvents(*simulate(leads, seed, 0, start, days, None, True, 1, width))
    new_days = max(1, round(days * new_leads / leads))
    new_start = start + pd.Timedelta(days=days)
    fresh = DemoEvents(
        *simulate(new_leads, seed, 1, new_start, new_days, None, False, leads + 1, width)
    )

    suffix = "jsonl" if fmt == "jsonl" else "parquet"
    paths = {
        "events": directory / f"events.{suffix}",
        "outcomes": directory / "outcomes.csv",
        "new_events": directory / f"new_events.{suffix}",
        "crm": directory / "crm.csv",
        "new_crm": directory / "new_crm.csv",
        "truth": directory / "truth.csv",
        "manifest": directory / "events_manifest.json",
        "dictionary": directory / "dictionary.csv",
    }
    malformed = dict.fromkeys(MESSY_KINDS, 0)
    if fmt == "jsonl":
        lines = len(history.events)
        if messy:
            rng = np.random.default_rng([seed, 2])
            malformed = messy_counts(len(history.events))
            lines += sum(malformed.values())
            plan = messy_plan(rng, len(history.events), malformed)
        else:
            plan = None
        write_jsonl(history.events, paths["events"], plan)
        write_jsonl(fresh.events, paths["new_events"], None)
    else:
        lines = 0
        write_parquet(history.events, paths["events"])
        write_parquet(fresh.events, paths["new_events"])
    write_csv(history.outcomes, paths["outcomes"])
    write_csv(history.crm, paths["crm"])
    write_csv(fresh.crm, paths["new_crm"])
    write_csv(pd.concat([history.truth, fresh.truth], ignore_index=True), paths["truth"])
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
        "crm_rows": len(history.crm),
        "crm_changed_after_outcome": int(history.crm["status"].ne("Open").sum()),
        "new_crm_rows": len(fresh.crm),
    }
    paths["manifest"].write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    write_dictionary(paths["dictionary"])
    return paths
