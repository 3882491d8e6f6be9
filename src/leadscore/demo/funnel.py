"""The behaviour model of the demo web funnel: sessions, page views and milestones over time.

:func:`simulate` draws everything the event generator (:mod:`leadscore.demo.events`)
returns. Each lead arrives (:mod:`~leadscore.demo.population`) with a hidden engagement
level that drives how many sessions (1–15) and pages it has, whether it comes back the same
day, how often it views the pricing page and which milestones it reaches — ``signup``
(every lead, in its first or second session), ``demo_request``, ``download_whitepaper``,
``webinar_registered`` — so these correlate with one another as real behaviour does. Within
a session page views are 3 seconds to 25 minutes apart; sessions are more than 30 minutes
apart, later ones the same day or days later. Page views carry the page, the previous page
as referrer, the landing page's first touch (:mod:`~leadscore.demo.traffic`), the lead's
user agent (:mod:`~leadscore.demo.devices`) and IP address. The outcome is then drawn from
the planted model (:mod:`~leadscore.demo.truth`), and converters get their post-outcome
events (onboarding, app page views, the first paid invoice) strictly after ``outcome_at``.

The order of the random draws is part of the API: the same seed gives the same events, so
every step below draws in a fixed order from one generator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadscore.demo.common import (
    HOUR_WEIGHTS,
    MS_DAY,
    MS_HOUR,
    MS_MINUTE,
    SESSION_GAP_MS,
    draw,
    expand,
    sigmoid,
)
from leadscore.demo.crm import crm_changes, crm_frame, draw_crm
from leadscore.demo.devices import (
    SECOND_DEVICE,
    SECOND_DEVICE_SHARE,
    pick_user_agents,
    user_agent_pool,
)
from leadscore.demo.population import (
    TZ_SHARE,
    ZONES,
    OffsetGrid,
    arrivals,
    draw_ips,
    format_ips,
)
from leadscore.demo.site import (
    APP_CODES,
    BROWSE,
    DEMO,
    KIND_CODES,
    LANDING,
    ONBOARDING,
    PATHS,
    PRICING,
    RETURN_ENTRY,
    SIGNUP,
    page_distribution,
)
from leadscore.demo.table import EVENT_NAMES, Part, assemble, lead_ids, milestone_events
from leadscore.demo.traffic import (
    REF,
    RETURN_REFERRERS,
    country_google_codes,
    first_touch,
    landing_urls,
)
from leadscore.demo.truth import (
    DEVICES,
    SOURCES,
    draw_outcomes,
    observe,
    outcome_table,
    outcome_times,
    truth_table,
)

__all__ = ["simulate"]

_MAX_DWELL_MS = 25 * MS_MINUTE
_MAX_SESSIONS = 15


def simulate(
    n: int,
    seed: int,
    stream: int,
    start: pd.Timestamp,
    days: int,
    positive_rate: float | None,
    post_outcome: bool,
    first_id: int,
    width: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Events, outcomes, truth and CRM table of ``n`` leads for already validated arguments.

    ``stream`` tells apart the random streams of one seed (the history and the fresh
    leads); ids are numbered from ``first_id`` with ``width`` digits. The order of the draws
    is part of the API: changing it changes every seeded output. The CRM fields come from a
    stream of their own (``[seed, stream, 3]``), so they leave the behaviour as it was; with
    ``post_outcome`` a share of leads also get a CRM row changed after their outcome.
    """
    rng = np.random.default_rng([seed, stream])
    start_ms = int((start - pd.Timestamp("1970-01-01")) // pd.Timedelta(milliseconds=1))
    grid = OffsetGrid(ZONES, start_ms - 2 * MS_DAY, days + 420)

    # --- who arrives when: country, time zone, first visit in local time (sorted in UTC) ---
    country, zone, first_utc = arrivals(rng, n, start, start_ms, days, grid)

    # --- latent attributes and behaviour propensities ---
    source = draw(rng, n, [share for share, _ in SOURCES.values()]).astype(np.int8)
    device = draw(rng, n, [share for share, _ in DEVICES.values()]).astype(np.int8)
    has_tz = rng.random(n) < TZ_SHARE
    engagement = rng.standard_normal(n)
    src_names = np.array(list(SOURCES))
    dev_names = np.array(list(DEVICES))
    desktop = device == 0
    n_sess = 1 + np.minimum(
        rng.poisson(1.5 * np.exp(0.5 * engagement - 0.125)), _MAX_SESSIONS - 1
    ).astype(np.int64)
    signup_sess = np.where((n_sess > 1) & (rng.random(n) < 0.2), 1, 0)
    same_day_intent = rng.random(n) < sigmoid(-0.9 + 0.8 * engagement)
    demo_bump = np.select([src_names[source] == "google_ads", src_names[source] == "linkedin"],
                          [0.3, 0.2], 0.0)  # fmt: skip
    wants = {  # milestone kind: which leads have it (this order is the order within a session)
        "download_whitepaper": rng.random(n) < sigmoid(-2.4 + 0.4 * engagement),
        "webinar_registered": rng.random(n)
        < sigmoid(-3.1 + 0.4 * engagement + 0.8 * (src_names[source] == "email")),
        "signup": np.ones(n, dtype=bool),
        "demo_request": rng.random(n)
        < sigmoid(-2.3 + 0.6 * engagement + demo_bump + 0.3 * desktop),
    }
    milestone_sess = {
        kind: signup_sess if kind == "signup" else rng.integers(0, n_sess) for kind in wants
    }
    pricing_rate = np.clip(0.07 * np.exp(0.45 * engagement), 0.005, 0.5)
    pages_mean = 1.0 + 1.5 * np.exp(0.35 * engagement - 0.06) * np.where(desktop, 1.2, 0.85)

    # --- sessions and their page views (milestones take the last pages of a session) ---
    sess_lead, sess_idx = expand(n_sess)
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
    pv_sess, pv_pos = expand(pages)
    pv_lead = sess_lead[pv_sess]
    pv_first = np.cumsum(pages) - pages
    ms_pv = pv_first[ms_sess] + base_pages[ms_sess] + ms_rank

    dwell = np.clip(
        np.exp(np.log(45_000.0) + rng.standard_normal(pv_sess.size)), 3_000, _MAX_DWELL_MS
    ).astype(np.int64)
    elapsed = np.cumsum(dwell) - dwell
    elapsed -= elapsed[pv_first][pv_sess]
    duration = np.add.reduceat(dwell, pv_first)
    sess_start = _session_starts(
        rng, grid, zone, first_utc, n_sess, sess_first, duration, same_day_intent
    )
    pv_time = sess_start[pv_sess] + elapsed

    # --- pages: browsing (pricing by propensity), return entries, landing, milestones ---
    path = draw(rng, pv_sess.size, list(page_distribution(BROWSE))).astype(np.int16)
    path[rng.random(pv_sess.size) < pricing_rate[pv_lead]] = PRICING
    entries = np.flatnonzero((pv_pos == 0) & (sess_idx[pv_sess] > 0))
    path[entries] = draw(rng, entries.size, list(page_distribution(RETURN_ENTRY)))
    landing_pv = pv_first[sess_first]
    for code, name in enumerate(SOURCES):
        rows = np.flatnonzero(source == code)
        path[landing_pv[rows]] = draw(rng, rows.size, list(page_distribution(LANDING[name])))
    kind_names = list(wants)
    ms_path = np.full(ms_pv.size, SIGNUP, dtype=np.int16)
    for kind, (pages_of_kind, fixed) in {
        "download_whitepaper": (KIND_CODES["resource"], None),
        "webinar_registered": (KIND_CODES["webinar"], None),
        "demo_request": (None, DEMO),
    }.items():
        rows = np.flatnonzero(ms_kind == kind_names.index(kind))
        ms_path[rows] = fixed if pages_of_kind is None else rng.choice(pages_of_kind, rows.size)
    path[ms_pv] = ms_path
    ms_time = pv_time[ms_pv] + (rng.uniform(0.3, 0.9, ms_pv.size) * dwell[ms_pv]).astype(np.int64)

    # --- first touch: referrer, UTM parameters and click ids of the landing page ---
    first_ref, utm, click = first_touch(rng, source, country)
    landing, landing_code = landing_urls(rng, path[landing_pv], utm, click)
    url = path.astype(np.int32)
    has_query = landing_code >= 0
    url[landing_pv[has_query]] = len(PATHS) + landing_code[has_query]
    n_urls = len(PATHS) + len(landing)
    referrer = np.empty(pv_sess.size, dtype=np.int32)
    referrer[1:] = url[:-1]  # within a session: the previous page
    session_entry = pv_first
    return_ref = draw(rng, n_sessions, list(RETURN_REFERRERS.values()))
    return_ref_code = np.array([REF.get(r, -1) for r in RETURN_REFERRERS])[return_ref]
    local_google = country_google_codes()[country[sess_lead]]
    return_ref_code = np.where(return_ref_code < 0, local_google, return_ref_code)
    referrer[session_entry] = n_urls + return_ref_code
    referrer[landing_pv] = n_urls + first_ref

    # --- devices, user agents and IP addresses (a second device for one later session) ---
    ua_strings, ua_device = user_agent_pool()
    ua = pick_user_agents(rng, dev_names[device], ua_strings, ua_device)
    second = (n_sess > 1) & (rng.random(n) < SECOND_DEVICE_SHARE)
    second_sess = sess_first + rng.integers(1, np.maximum(n_sess, 2))
    alt_device = np.array([SECOND_DEVICE[d] for d in DEVICES])[device]
    alt_ua = pick_user_agents(rng, alt_device, ua_strings, ua_device)
    ip_ints = draw_ips(rng, country)
    alt_ip_ints = draw_ips(rng, country)
    ip_codes, ip_uniques = pd.factorize(np.concatenate([ip_ints, alt_ip_ints]))
    ip_strings = pd.Index(format_ips(ip_uniques))
    ip, alt_ip = ip_codes[:n].astype(np.int32), ip_codes[n:].astype(np.int32)
    on_second = np.zeros(n_sessions, dtype=bool)
    on_second[second_sess[second]] = True
    pv_second = on_second[pv_sess]
    pv_ua = np.where(pv_second, alt_ua[pv_lead], ua[pv_lead])
    pv_ip = np.where(pv_second, alt_ip[pv_lead], ip[pv_lead])

    # --- the planted attributes as the events show them, the outcome and its time ---
    planted = observe(
        grid,
        zone,
        first_utc,
        second_start=sess_start[np.minimum(sess_first + 1, n_sessions - 1)],
        sessions=n_sess,
        demo=wants["demo_request"],
        pricing_views=np.bincount(pv_lead[path == PRICING], minlength=n),
    )
    crm_rng = np.random.default_rng([seed, stream, 3])
    crm = draw_crm(crm_rng, n, country=country, source=source)
    probability, converted = draw_outcomes(rng, planted, source, device, positive_rate, crm.logit)
    last_seen = pv_time[pv_first[sess_first + n_sess - 1] + pages[sess_first + n_sess - 1] - 1]
    np.maximum.at(last_seen, ms_lead, ms_time)
    signup_at = np.empty(n, dtype=np.int64)
    is_signup = ms_kind == kind_names.index("signup")
    signup_at[ms_lead[is_signup]] = ms_time[is_signup]
    outcome_at = outcome_times(rng, converted, signup_at, last_seen)

    # --- assemble the behaviour events, then the post-outcome events of converters ---
    parts = [
        Part(pv_lead, pv_time, 0, path, url, referrer, pv_ua, pv_ip, None),
        Part(
            ms_lead,
            ms_time,
            milestone_events(kind_names)[ms_kind],
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
    events = assemble(
        rng, parts, pv_lead, utm_rows, utm, zone, has_tz, grid, landing, ip_strings,
        ua_strings, first_id, width, n,
    )  # fmt: skip

    ids = lead_ids(first_id, n, width)
    outcomes = outcome_table(ids, converted, outcome_at)
    crm_rows = crm_frame(crm, ids, signup_at)  # written when the lead signs up
    truth = truth_table(
        ids,
        probability,
        planted,
        source=source,
        device=device,
        country=country,
        zone=zone,
        has_tz=has_tz,
        engagement=engagement,
        sessions=n_sess,
        second_device=second,
        first_utc=first_utc,
        signup_at=signup_at,
        crm=crm_rows,
        converted=converted,
    )
    if post_outcome:
        changes = crm_changes(crm_rng, crm, ids, converted, outcome_at)
        crm_rows = pd.concat([crm_rows, changes], ignore_index=True)
        crm_rows = crm_rows.sort_values(["lead_id", "updated_at"], kind="stable")
    return events, outcomes, truth, crm_rows.reset_index(drop=True)


def _session_starts(
    rng: np.random.Generator,
    grid: OffsetGrid,
    zone: np.ndarray,
    first_utc: np.ndarray,
    n_sess: np.ndarray,
    sess_first: np.ndarray,
    duration: np.ndarray,
    same_day_intent: np.ndarray,
) -> np.ndarray:
    """Start (UTC milliseconds) of every session: the first at the lead's first visit, each
    later one soon after the previous (the same day) or on a later day at a time drawn
    from the daily curve in the lead's local time, never within the 30-minute gap."""
    sess_start = np.empty(duration.size, dtype=np.int64)
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
            + draw(rng, m, list(HOUR_WEIGHTS)) * MS_HOUR
            + rng.integers(0, MS_HOUR, size=m)
            - offset
        )
        later_at = np.maximum(later_at, prev_end + rng.integers(MS_MINUTE, 10 * MS_MINUTE, m))
        sess_start[prev + 1] = np.where(soon, soon_at, later_at)
    return sess_start


def _post_outcome(
    rng: np.random.Generator,
    won: np.ndarray,
    outcome_at: np.ndarray,
    ua: np.ndarray,
    ip: np.ndarray,
    n_urls: int,
) -> list[Part]:
    """Onboarding, app page views and the first paid invoice, strictly after the outcome."""
    m = won.size
    onboarding = outcome_at[won] + rng.integers(3 * MS_MINUTE, 6 * MS_HOUR, size=m)
    app_pages = 2 + np.minimum(rng.poisson(2.5, size=m), 18)
    owner, _ = expand(app_pages)
    dwell = np.clip(np.exp(np.log(40_000.0) + rng.standard_normal(owner.size)), 2_000, 900_000)
    dwell = dwell.astype(np.int64)
    first = np.cumsum(app_pages) - app_pages
    elapsed = np.cumsum(dwell) - dwell
    elapsed -= elapsed[first][owner]
    app_time = onboarding[owner] + rng.integers(2_000, 40_000, size=owner.size) + elapsed
    app_path = rng.choice(APP_CODES[1:], size=owner.size).astype(np.int16)
    app_ref = np.empty(owner.size, dtype=np.int32)
    app_ref[1:] = app_path[:-1]
    app_ref[first] = ONBOARDING
    invoice = outcome_at[won] + rng.integers(MS_DAY, 14 * MS_DAY, size=m)
    lead = won[owner]
    return [
        Part(won, onboarding, EVENT_NAMES.index("onboarding_started"), ONBOARDING,
             ONBOARDING, n_urls + REF[""], ua[won], ip[won], None),
        Part(lead, app_time, 0, app_path, app_path.astype(np.int32), app_ref, ua[lead],
             ip[lead], None),
        Part(won, invoice, EVENT_NAMES.index("invoice_paid"), -1, -1, -1, -1, -1,
             np.zeros(m, dtype=bool)),
    ]  # fmt: skip
