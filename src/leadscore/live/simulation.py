"""A stretch of days replayed against the store: leads arrive, are scored, some are worked,
outcomes come back, behaviour drifts, a retraining happens (``leadscore demo-live``).

:func:`simulate_days` runs a clock day by day from ``days`` ago to today over a world of
the demo generator's leads (:mod:`leadscore.live.sim_world`). Each day:

1. at its start, on the retraining day, the ``retrainer`` runs on what the store holds by
   then; when it puts a new model in service, the open leads of the last three weeks are
   re-scored by it at once (a model-version move, as after a promotion);
2. the day's new leads (those signing up that day) arrive with all their events so far,
   their CRM fields as attributes; the leads already known get the day's new events
   (events keep their real times; the leads' creation and attribute times are set back to
   their sign-up, :mod:`leadscore.live.sim_store`);
3. every lead with new events is scored at the end of the day from all its events (the
   model's feature code, as the API re-scores), its score stored with ``scored_at`` that
   evening; the contact decision is the model's plus the settings' exploration draw
   (:class:`~leadscore.scoring.exploration.ExplorationPolicy`);
4. the team works the leads marked for contact: each gets its outcome, as the generator
   drew it, once the CRM records it — at the generator's outcome time but at least a day
   after the contact, so days to weeks later. Leads never contacted never report one: the
   team does not know how they would have ended, which is why exploration exists.
   Outcomes whose time has come are handed to ``outcome_sink`` (the store, or the API).

From ``drift_from_day`` the new leads' first-touch source shifts (the planted drift of
:mod:`leadscore.live.sim_world`): the monitoring report's drift section names
``first_touch_source``.

Example
-------
>>> due = DueOutcome("L1", True, datetime(2026, 3, 2, tzinfo=UTC))
>>> _ = store.leads.upsert("L1", {})
>>> store_sink(store)([due])
>>> store.outcomes.latest("L1").contacted
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd

from leadscore.config import Settings
from leadscore.data.events import stored_events_frame
from leadscore.data.roles import identity_columns
from leadscore.errors import LeadscoreError
from leadscore.features.crm import read_crm
from leadscore.jsonutil import jsonable
from leadscore.live.outbox import add_scores
from leadscore.live.sim_store import api_events
from leadscore.live.sim_world import (
    DRIFT_SOURCE,
    DRIFTED_FEATURE,
    SimulatedWorld,
    simulated_world,
)
from leadscore.live.slot import ModelSlot
from leadscore.modeling.model import LeadModel
from leadscore.scoring.exploration import ExplorationPolicy
from leadscore.scoring.realtime.scorer import FastScorer
from leadscore.scoring.reasons import reason_records
from leadscore.store import NewScore, Store

__all__ = [
    "DueOutcome",
    "OutcomeSink",
    "Retrained",
    "Retrainer",
    "SimulationSummary",
    "simulate_days",
    "store_sink",
]

#: the soonest a contacted lead's outcome is recorded after the contact
MIN_OUTCOME_LAG = timedelta(days=1)
#: how far back the leads re-scored by a newly served model arrived
RESCORE_OPEN_DAYS = 21
#: the minute of the day's end at which its scores are stamped (23:30 UTC)
SCORE_MINUTE = 23 * 60 + 30


@dataclass(frozen=True)
class DueOutcome:
    """An outcome the CRM records: the lead, whether it converted, when, and whether sales
    had contacted it (always, in the simulation: only contacted leads report one)."""

    lead_id: str
    converted: bool
    occurred_at: datetime
    contacted: bool = True


#: where outcomes go: the store (:func:`store_sink`) or the running API
OutcomeSink = Callable[[Sequence[DueOutcome]], None]


@dataclass(frozen=True)
class Retrained:
    """What a retraining did: its verdict in a line and the model serving from then on
    (None: the one serving stays)."""

    decision: str
    model: LeadModel | None = None
    version: str | None = None


#: runs a retraining on the store as it is at the given (simulated) time
Retrainer = Callable[[datetime], Retrained]


@dataclass
class SimulationSummary:
    """What a simulation did."""

    start: datetime
    end: datetime
    days: int
    leads: int = 0
    scores: int = 0
    events: int = 0
    contacted: int = 0
    explored: int = 0
    outcomes: int = 0
    converted: int = 0
    #: outcomes of contacted leads not recorded yet by the end (their time is to come)
    pending: int = 0
    drifted_feature: str | None = None
    drift: str | None = None
    retrain_day: int | None = None
    retrain_decision: str | None = None
    model_versions: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary as short lines, for a terminal."""
        out = [
            f"{self.days} days from {self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}: "
            f"{self.leads:,} leads, {self.events:,} events, {self.scores:,} scores "
            f"({self.scores - self.leads:,} re-scores)",
            f"contacted {self.contacted:,} leads ({self.explored:,} by exploration); "
            f"{self.outcomes:,} outcomes recorded ({self.converted:,} converted), "
            f"{self.pending:,} still to come",
        ]
        if self.drift:
            out.append(f"drift: {self.drift}")
        if self.retrain_decision:
            out.append(f"retraining on day {self.retrain_day}: {self.retrain_decision}")
        out.append("model versions on the scores: " + ", ".join(self.model_versions))
        return out


def store_sink(store: Store) -> OutcomeSink:
    """An outcome sink writing straight to the store (tests, or no API running)."""

    def sink(due: Sequence[DueOutcome]) -> None:
        for item in due:
            store.outcomes.add(
                item.lead_id, item.converted, item.occurred_at, contacted=item.contacted
            )

    return sink


@dataclass
class _Serving:
    model: LeadModel
    version: str
    scorer: FastScorer


@dataclass
class _Team:
    """Who the team contacted, and the outcomes waiting for their time."""

    contacted: dict[str, datetime] = field(default_factory=dict)
    explored: set[str] = field(default_factory=set)
    waiting: list[DueOutcome] = field(default_factory=list)
    closed: set[str] = field(default_factory=set)


def simulate_days(
    store: Store,
    model: ModelSlot | LeadModel,
    settings: Settings,
    *,
    version: str | None = None,
    days: int = 90,
    leads_per_day: int = 60,
    seed: int = 42,
    drift_from_day: int | None = 45,
    retrain_on_day: int | None = None,
    retrainer: Retrainer | None = None,
    outcome_sink: OutcomeSink | None = None,
    today: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationSummary:
    """Replay ``days`` days up to ``today`` against ``store`` (see the module's text).

    Parameters
    ----------
    store:
        The score store (events, scores and the leads are written to it directly).
    model:
        The model serving at the start, trained on event features: a :class:`ModelSlot`
        or a :class:`LeadModel` (with ``version``).
    settings:
        The project settings: the exploration policy (``[exploration]``).
    version:
        The version recorded with a :class:`LeadModel`'s scores.
    days, leads_per_day, seed:
        The world: its length, new leads a day on average, the generator's seed.
    drift_from_day:
        The first day of the planted drift (None: none).
    retrain_on_day:
        The day the ``retrainer`` runs (default: two thirds in); no ``retrainer``, none.
    outcome_sink:
        Where outcomes go when their time comes (default: the store).
    today:
        The end of the last day (default: today's midnight, UTC).
    progress:
        Called after each day with the days done and the days in all.
    """
    serving = _serving(model, version)
    if getattr(serving.model, "feature_builder_", None) is None:
        raise LeadscoreError(
            "the simulation scores leads from their events: serve a model trained on event "
            "features (leadscore features → train), not on a lead table"
        )
    end = _midnight(today)
    start = end - timedelta(days=days)
    world = simulated_world(
        days, leads_per_day, seed=seed, start=start.date().isoformat(),
        drift_from_day=drift_from_day,
    )  # fmt: skip
    if len(world.leads) and store.leads.get(world.leads["lead_id"].iloc[0]) is not None:
        raise LeadscoreError(
            f"the store already holds simulated leads ({world.leads['lead_id'].iloc[0]} …): "
            "a simulation replays the past into a store once; use a fresh one"
        )
    retrain_day = retrain_on_day if retrain_on_day is not None else round(days * 2 / 3)
    policy = ExplorationPolicy.from_settings(settings)
    sink = outcome_sink or store_sink(store)
    summary = SimulationSummary(start=start, end=end, days=days)
    team = _Team()
    events_day = ((world.events["timestamp"] - world.start.tz_localize("UTC")) // pd.Timedelta(
        days=1
    )).clip(lower=0)  # fmt: skip
    by_day = {day: frame for day, frame in world.events.groupby(events_day.to_numpy(), sort=True)}
    arriving = {day: frame for day, frame in world.leads.groupby("arrival_day", sort=True)}
    truth = world.leads.set_index("lead_id")
    known: set[str] = set()
    for day in range(days):
        day_start = start + timedelta(days=day)
        if retrainer is not None and day == retrain_day and day > 0:
            found = retrainer(day_start)
            summary.retrain_day, summary.retrain_decision = day, found.decision
            if found.model is not None:
                serving = _serving(found.model, found.version or "retrained")
                open_leads = _open_leads(world, team, known, day)
                _score(store, serving, policy, open_leads, day_start + timedelta(minutes=5),
                       world, (), team, truth, summary)  # fmt: skip
        new = arriving.get(day)
        new_ids = [] if new is None else new["lead_id"].tolist()
        todays = by_day.get(day, world.events.iloc[:0])
        # the new leads bring every event so far (visits before the sign-up included)
        earlier = world.events.loc[
            world.events["lead_id"].isin(new_ids) & (events_day < day)
        ]  # fmt: skip
        posted = pd.concat([earlier, todays.loc[todays["lead_id"].isin(known | set(new_ids))]])
        for lead_id, rows in posted.groupby("lead_id", sort=True):
            summary.events += store.events.add(str(lead_id), api_events(rows))
        known.update(new_ids)
        active = sorted(set(posted["lead_id"].astype(str)) - team.closed)
        at = day_start + timedelta(minutes=SCORE_MINUTE)
        _score(store, serving, policy, active, at, world, new_ids, team, truth, summary)
        store.leads.backdate(
            {lead: truth.at[lead, "signup_at"].to_pydatetime() for lead in new_ids}
        )
        summary.leads += len(new_ids)
        _deliver(team, day_start + timedelta(days=1), sink, summary)
        if progress is not None:
            progress(day + 1, days)
    summary.pending = len(team.waiting)
    summary.contacted = len(team.contacted)
    summary.explored = len(team.explored)
    if drift_from_day is not None:
        before = world.source_share(0, drift_from_day - 1)
        after = world.source_share(drift_from_day, days - 1)
        summary.drifted_feature = DRIFTED_FEATURE
        summary.drift = (
            f"{DRIFTED_FEATURE}: new leads from {DRIFT_SOURCE} {before:.0%} → {after:.0%} "
            f"from day {drift_from_day} ({start + timedelta(days=drift_from_day):%Y-%m-%d})"
        )
    return summary


def _serving(model: ModelSlot | LeadModel, version: str | None) -> _Serving:
    if isinstance(model, ModelSlot):
        current = model.current
        return _Serving(current.model, current.version, current.scorer)
    return _Serving(model, version or "1", FastScorer(model))


def _midnight(today: datetime | None) -> datetime:
    when = (today or datetime.now(UTC)).astimezone(UTC)
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def _open_leads(world: SimulatedWorld, team: _Team, known: set[str], day: int) -> list[str]:
    """Known leads of the last weeks without a recorded outcome."""
    recent = world.leads.loc[world.leads["arrival_day"] >= day - RESCORE_OPEN_DAYS, "lead_id"]
    return sorted((set(recent) & known) - team.closed)


def _score(
    store: Store,
    serving: _Serving,
    policy: ExplorationPolicy,
    lead_ids: Sequence[str],
    at: datetime,
    world: SimulatedWorld,
    new_leads: Sequence[str],
    team: _Team,
    truth: pd.DataFrame,
    summary: SimulationSummary,
) -> None:
    """Score the leads from their stored events (and CRM fields) as of ``at``, store the
    scores stamped ``at`` (with the new leads' CRM fields as attributes), and let the team
    contact the leads marked for it."""
    if not lead_ids:
        return
    model = serving.model
    chunks = [stored_events_frame(chunk) for chunk in store.events.for_leads(list(lead_ids))]
    events = pd.concat(chunks, ignore_index=True)
    as_of = pd.Timestamp(at).tz_convert(None)
    # the CRM fields joined as of the score, as batch scoring joins a CRM table
    rows = world.crm.loc[world.crm["lead_id"].isin(lead_ids)]
    crm = read_crm(rows.assign(updated_at=rows["updated_at"].dt.tz_convert(None)))
    features = model.event_features(events, as_of=as_of, leads=crm)
    rows = [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in record.items()}
        for record in features.to_dict("records")
    ]
    # the compiled scorer the API scores with: the same scores, contacts and reasons
    results = serving.scorer.score_many(rows, reasons=3)
    items = []
    for row, result in zip(rows, results, strict=True):
        lead_id = str(row["lead_id"])
        contact, explored, propensity = policy.decide(lead_id, result.contact)
        items.append(
            NewScore(
                lead_id=lead_id, model_version=serving.version, score=result.score,
                score_100=result.score_100, segment=result.segment, contact=contact,
                reasons=reason_records(result.reasons_up, result.reasons_down),
                scored_at=at, explored=explored, propensity=propensity,
            )
        )  # fmt: skip
    # the new leads' CRM fields become their attributes (as the API's PATCH would store)
    # and who they are (name, company, owner…: display fields, never model inputs)
    shown = [*model.crm_fields, *identity_columns(c for c in features.columns if c != "lead_id")]
    fields = features.loc[features["lead_id"].isin(new_leads), ["lead_id", *dict.fromkeys(shown)]]
    fields = fields.astype(object).where(fields.notna(), None)
    attributes = {str(r.pop("lead_id")): r for r in jsonable(fields.to_dict("records"))}
    add_scores(store, items, attributes=attributes)
    summary.scores += len(items)
    if serving.version not in summary.model_versions:
        summary.model_versions.append(serving.version)
    for item in items:
        if not item.contact or item.lead_id in team.contacted:
            continue
        team.contacted[item.lead_id] = at
        if item.explored:
            team.explored.add(item.lead_id)
        lead = truth.loc[item.lead_id]
        when = max(lead["outcome_at"].to_pydatetime(), at + MIN_OUTCOME_LAG)
        team.waiting.append(DueOutcome(item.lead_id, bool(lead["converted"]), when))


def _deliver(team: _Team, until: datetime, sink: OutcomeSink, summary: SimulationSummary) -> None:
    """Hand the outcomes whose time has come to the sink, oldest first."""
    due = sorted((o for o in team.waiting if o.occurred_at < until), key=lambda o: o.occurred_at)
    if not due:
        return
    team.waiting = [o for o in team.waiting if o.occurred_at >= until]
    sink(due)
    for item in due:
        team.closed.add(item.lead_id)
    summary.outcomes += len(due)
    summary.converted += sum(item.converted for item in due)
