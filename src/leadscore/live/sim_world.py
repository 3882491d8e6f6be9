"""The world a simulated stretch of days plays in: the demo funnel's leads arriving day by
day, with one planted drift (what :mod:`leadscore.live.simulation` replays).

Leads come from the demo event generator (:mod:`leadscore.demo`): their web events, their
CRM row (written at sign-up) and the truth — whether each converted and when the CRM
records it. A lead *arrives* on the day of its ``signup`` event: its earlier visits were
anonymous until then and reach the store with it. Leads signing up after the last day
never arrive.

The planted drift
-----------------
From ``drift_from_day`` on, a paid-social campaign brings far more Facebook leads: the
first-touch source mix of new leads shifts from the generator's 18 % Facebook to
:data:`DRIFT_SHARE` (the other sources shrink in proportion). The model reads it as
``first_touch_source`` (:data:`DRIFTED_FEATURE`), whose population stability index
against the training leads then rises well above 0.25. The leads are the generator's,
drawn for the drift period and kept at random by source (the Facebook ones all, the others
at the rate that gives the new mix). The campaign is well targeted: its Facebook leads
convert better than the generator's (:data:`DRIFT_LIFT` added to their logit; their
outcomes and outcome times drawn again), so the model trained before the drift underrates
them — what realised conversion by score band shows, and what a retraining on the recent
outcomes can learn. The other leads keep the generator's outcomes.

Example
-------
>>> world = simulated_world(days=4, leads_per_day=10, seed=3, start="2026-03-02",
...                         drift_from_day=2)
>>> sorted(world.leads["arrival_day"].unique().tolist())
[0, 1, 2, 3]
>>> world.leads.columns.tolist()[:4]
['lead_id', 'arrival_day', 'signup_at', 'source']
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadscore.demo.common import check_count, check_seed, check_start
from leadscore.demo.events import DemoEvents
from leadscore.demo.funnel import simulate
from leadscore.demo.truth import SOURCES, outcome_times
from leadscore.errors import DataError

__all__ = [
    "DRIFTED_FEATURE",
    "DRIFT_LIFT",
    "DRIFT_SHARE",
    "DRIFT_SOURCE",
    "SimulatedWorld",
    "simulated_world",
]

#: the model input the planted drift moves, and how
DRIFTED_FEATURE = "first_touch_source"
DRIFT_SOURCE = "facebook"
DRIFT_SHARE = 0.5
#: the campaign's leads convert better than the generator's Facebook leads: this much is
#: added to their logit (the model, trained before, underrates them until retrained)
DRIFT_LIFT = 1.2
#: random streams of the generator's seed (0 and 1 are the history and fresh leads of
#: ``write_demo_events``): before the drift, the drift period's pool, the pool's thinning,
#: the campaign leads' outcomes
_STREAMS = (10, 11, 12, 13)


@dataclass(frozen=True, eq=False)
class SimulatedWorld:
    """Every lead of a simulated stretch of days.

    Attributes
    ----------
    events:
        The leads' web events (the generator's columns), by time.
    crm:
        One CRM row per lead, written at its sign-up (``updated_at``).
    leads:
        ``lead_id, arrival_day, signup_at, source, converted, outcome_at``: the day the
        lead arrives (0 is ``start``), its first-touch source as the generator drew it,
        and its outcome as the generator drew it (known to the team only if contacted).
    start:
        Midnight (UTC) of day 0.
    days:
        How many days.
    drift_from_day:
        The first day of the planted drift (None: no drift).
    """

    events: pd.DataFrame
    crm: pd.DataFrame
    leads: pd.DataFrame
    start: pd.Timestamp
    days: int
    drift_from_day: int | None

    def source_share(self, first_day: int, last_day: int) -> float:
        """The share of :data:`DRIFT_SOURCE` among the leads arriving on days
        ``first_day`` to ``last_day`` (both included)."""
        days = self.leads["arrival_day"]
        chosen = self.leads.loc[(days >= first_day) & (days <= last_day), "source"]
        return float((chosen == DRIFT_SOURCE).mean()) if len(chosen) else math.nan


def simulated_world(
    days: int,
    leads_per_day: int,
    *,
    seed: int = 42,
    start: str | pd.Timestamp,
    drift_from_day: int | None = None,
    id_prefix: str = "sim_",
) -> SimulatedWorld:
    """Leads arriving over ``days`` days from ``start`` (a date: midnight UTC), about
    ``leads_per_day`` a day, with the planted drift from ``drift_from_day`` on.

    Parameters
    ----------
    days:
        How many days (an integer >= 1).
    leads_per_day:
        Average new leads a day (weekdays busier, as the generator draws them).
    seed:
        Seed of the generator (the same seed gives the same world).
    start:
        Day 0.
    drift_from_day:
        First day of the drift, between 1 and ``days - 1``; None: no drift.
    id_prefix:
        Lead ids are this and a number (``sim_000001`` …), apart from the generator's
        ``u_…`` of ``make demo``'s other leads in the same store.
    """
    days = check_count("days", days)
    per_day = check_count("leads_per_day", leads_per_day)
    seed = check_seed(seed)
    day0 = check_start(start)
    if drift_from_day is not None and not 0 < drift_from_day < days:
        raise DataError(f"drift_from_day must be between 1 and {days - 1}, got {drift_from_day}")
    calm_days = days if drift_from_day is None else drift_from_day
    width = 6
    parts = [_generate(per_day * calm_days, seed, _STREAMS[0], day0, calm_days, 1, width)]
    if drift_from_day is not None:
        drift_days = days - drift_from_day
        parts.append(
            _drifting(per_day * drift_days, seed, day0 + pd.Timedelta(days=drift_from_day),
                      drift_days, first_id=per_day * calm_days + 1, width=width)
        )  # fmt: skip
    events, crm, truth, outcomes = (
        _renamed(pd.concat(frames, ignore_index=True), id_prefix)
        for frames in zip(*((p.events, p.crm, p.truth, p.outcomes) for p in parts), strict=True)
    )
    leads = _arrivals(truth, outcomes, day0, days)
    kept = set(leads["lead_id"])
    events = events.loc[events["lead_id"].isin(kept)].sort_values("timestamp", kind="stable")
    crm = crm.loc[crm["lead_id"].isin(kept)].drop_duplicates("lead_id")
    return SimulatedWorld(
        events.reset_index(drop=True), crm.reset_index(drop=True), leads, day0, days,
        drift_from_day,
    )  # fmt: skip


def _renamed(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    ids = frame["lead_id"].astype(str).str.replace(r"^u_", prefix, regex=True)
    return frame.assign(lead_id=ids)


def _generate(
    n: int, seed: int, stream: int, start: pd.Timestamp, days: int, first_id: int, width: int
) -> DemoEvents:
    """The generator's leads (no post-outcome events: the simulation ends before them)."""
    return DemoEvents(*simulate(n, seed, stream, start, days, None, False, first_id, width))


def _drifting(
    n: int, seed: int, start: pd.Timestamp, days: int, *, first_id: int, width: int
) -> DemoEvents:
    """About ``n`` leads with :data:`DRIFT_SHARE` of them from :data:`DRIFT_SOURCE`: a pool
    of the generator's leads thinned by source."""
    share = SOURCES[DRIFT_SOURCE][0]
    others = share * (1 - DRIFT_SHARE) / (DRIFT_SHARE * (1 - share))  # keep rate of the rest
    pool = _generate(
        math.ceil(n / (share + (1 - share) * others)), seed, _STREAMS[1], start, days,
        first_id, width,
    )  # fmt: skip
    rng = np.random.default_rng([seed, _STREAMS[2]])
    source = pool.truth["source"].to_numpy()
    keep = (source == DRIFT_SOURCE) | (rng.random(source.size) < others)
    ids = set(pool.truth.loc[keep, "lead_id"])
    events = pool.events.loc[pool.events["lead_id"].isin(ids)]
    outcomes = _campaign_outcomes(
        pool.truth.loc[keep & (source == DRIFT_SOURCE)],
        pool.outcomes.loc[pool.outcomes["lead_id"].isin(ids)],
        events,
        np.random.default_rng([seed, _STREAMS[3]]),
    )
    return DemoEvents(
        events, outcomes, pool.truth.loc[keep], pool.crm.loc[pool.crm["lead_id"].isin(ids)]
    )


def _campaign_outcomes(
    campaign: pd.DataFrame, outcomes: pd.DataFrame, events: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """The outcomes with the campaign leads' drawn again at their lifted probability, and
    timed as the generator times them (after the lead's last event)."""
    logit = np.log(campaign["true_probability"] / (1 - campaign["true_probability"]))
    converted = rng.random(len(campaign)) < 1 / (1 + np.exp(-(logit.to_numpy() + DRIFT_LIFT)))
    last_seen = events.groupby("lead_id")["timestamp"].max().loc[campaign["lead_id"]]
    when = outcome_times(rng, converted, _ms(campaign["signup_at"]), _ms(last_seen))
    redrawn = pd.DataFrame(
        {
            "converted": np.where(converted, "yes", "no"),
            "outcome_at": pd.to_datetime(when, unit="ms", utc=True),
        },
        index=campaign["lead_id"].to_numpy(),
    )
    out = outcomes.set_index("lead_id")
    out.loc[redrawn.index, ["converted", "outcome_at"]] = redrawn
    return out.reset_index()


def _ms(times: pd.Series) -> np.ndarray:
    """UTC times as epoch milliseconds."""
    return (
        pd.to_datetime(times, utc=True).astype("datetime64[ms, UTC]").astype("int64")
    ).to_numpy()


def _arrivals(
    truth: pd.DataFrame, outcomes: pd.DataFrame, day0: pd.Timestamp, days: int
) -> pd.DataFrame:
    """Each lead's arrival day (its sign-up's), source and outcome; leads signing up after
    the last day are left out."""
    signup = pd.to_datetime(truth["signup_at"], utc=True)
    first = day0.tz_localize("UTC")
    day = ((signup - first) // pd.Timedelta(days=1)).clip(lower=0).astype(int)
    frame = pd.DataFrame(
        {
            "lead_id": truth["lead_id"].astype(str).to_numpy(),
            "arrival_day": day.to_numpy(),
            "signup_at": signup.to_numpy(),
            "source": truth["source"].astype(str).to_numpy(),
        }
    )
    done = outcomes.assign(lead_id=outcomes["lead_id"].astype(str)).set_index("lead_id")
    frame["converted"] = done.loc[frame["lead_id"], "converted"].eq("yes").to_numpy()
    frame["outcome_at"] = pd.to_datetime(done.loc[frame["lead_id"], "outcome_at"], utc=True).array
    frame = frame.loc[frame["arrival_day"] < days]
    return frame.sort_values(["arrival_day", "signup_at"], kind="stable").reset_index(drop=True)
