"""Live scoring: leads and events arriving one at a time, scored and stored at once.

This is what the API does, without the web: :class:`LiveScoring` scores a lead's
attributes with the model being served (:class:`~leadscore.live.ModelSlot`), or
recomputes its features from its stored events (with the feature code of training),
appends the score to the store's history with the webhooks it fires in the same
transaction (:mod:`leadscore.live.outbox`), and reads leads, histories and the work queue
back.

Example
-------
>>> from leadscore.config import Settings
>>> from leadscore.live import ModelSlot
>>> model.save("model/")
PosixPath('model')
>>> live = LiveScoring(ModelSlot.load("model/", Settings()), store)
>>> scored = live.score_lead("L1", {"source": "google", "visits": 3})
>>> scored.result.segment, store.scores.latest("L1").segment
('cold', 'cold')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from leadscore.config import CapacitySettings
from leadscore.data.events import stored_events_frame
from leadscore.live.capacity import CapacityDecision, Placed, Quota, decisions, period_quota
from leadscore.live.outbox import scoring
from leadscore.live.overrides import WorkQueue, work_queue
from leadscore.live.slot import ModelSlot, ServingModel
from leadscore.scoring.exploration import ExplorationPolicy
from leadscore.scoring.realtime.scorer import FastResult
from leadscore.scoring.reasons import reason_records
from leadscore.store import (
    UNAVAILABLE,
    DeliveryRecord,
    EventRecord,
    NewScore,
    NotFoundError,
    OutcomeRecord,
    OverrideRecord,
    ScoreRecord,
    Store,
)
from leadscore.store.lead_reads import lead_state

#: the share of a lead's trees the thread pool explains while this thread opens the store
#: transaction (~0.2 ms of the ~0.7 ms the bag's tree SHAP takes on one core, and the
#: pool's thread wakes up late): the larger share, so that both finish together
POOL_SHARE_WITH_STORE = 0.625

#: trend labels, as CRMs show them
IMPROVING, STEADY, DECLINING, NEW = "improving", "steady", "declining", "new"


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class LiveScore:
    """One lead scored and stored."""

    lead_id: str
    result: FastResult
    record: ScoreRecord
    model_version: str
    #: inputs the model had not seen in training (scored like a rare level), and the like
    warnings: tuple[str, ...] = ()
    #: webhooks queued by this score
    notifications: int = 0
    #: the lead's sales override in force when it was scored (:mod:`leadscore.live.overrides`)
    override: OverrideRecord | None = None
    #: its contact under the team's capacity, when one is set (:mod:`leadscore.live.capacity`)
    capacity: CapacityDecision | None = None


@dataclass(frozen=True)
class EventIngest:
    """What posting events did."""

    lead_id: str
    received: int
    new: int
    scored: LiveScore | None
    #: why the lead was not re-scored, when it was not
    note: str | None = None


@dataclass(frozen=True)
class LeadUpdate:
    """What updating a lead's attributes did: its merged attributes and the new score
    (None, with a note, when there was nothing to score it from)."""

    lead_id: str
    attributes: dict[str, Any]
    scored: LiveScore | None
    note: str | None = None


@dataclass(frozen=True)
class LeadView:
    """A lead as the sales team sees it: latest score, history and trend."""

    lead_id: str
    attributes: dict[str, Any]
    latest: ScoreRecord | None
    history: list[ScoreRecord] = field(default_factory=list)
    trend: str = NEW
    change: int | None = None
    converted: bool | None = None
    #: the lead's sales override in force (the history stays the model's own)
    override: OverrideRecord | None = None
    #: its latest score's contact under the team's capacity, when one is set
    capacity: CapacityDecision | None = None


def trend_of(history: Sequence[ScoreRecord], points: int) -> tuple[str, int | None]:
    """Latest score against the one before (history newest first): improving, steady,
    declining, or new when there is only one score."""
    if len(history) < 2:
        return NEW, None
    change = history[0].score_100 - history[1].score_100
    if change >= points:
        return IMPROVING, change
    if change <= -points:
        return DECLINING, change
    return STEADY, change


def events_frame(lead_id: str, events: Sequence[EventRecord]) -> pd.DataFrame:
    """A lead's stored events as the event schema the feature builder reads (the same
    frame a training table from the store reads: :func:`stored_events_frame`)."""
    return stored_events_frame(events, f"stored events of lead {lead_id}")


# ----------------------------------------------------------------------------- operations


class LiveScoring:
    """Score, store and read back leads one request at a time.

    Parameters
    ----------
    slot:
        The model being served.
    store:
        Where leads, events, scores and outcomes live.
    reasons:
        Reasons up and down stored and returned with each score.
    trend_points:
        Score change (points) that counts as improving / declining.
    capacity:
        The team's contacts per period (:mod:`leadscore.live.capacity`); None, or one
        without ``per_period``: the model's decisions, and no read for it.
    exploration:
        Contact a random share of the leads below the cut-off too
        (:mod:`leadscore.scoring.exploration`); None explores nothing.
    """

    def __init__(
        self,
        slot: ModelSlot,
        store: Store,
        *,
        reasons: int = 3,
        trend_points: int = 5,
        capacity: CapacitySettings | None = None,
        exploration: ExplorationPolicy | None = None,
    ) -> None:
        self.slot = slot
        self.store = store
        self.reasons = reasons
        self.trend_points = trend_points
        self.capacity = capacity if capacity is not None and capacity.per_period else None
        self.exploration = exploration

    # ------------------------------------------------------------- scoring

    def _warnings(self, serving: ServingModel, attributes: Mapping[str, Any]) -> tuple[str, ...]:
        out = []
        for spec in serving.model.schema_.columns:
            value = attributes.get(spec.name)
            if spec.kind != "categorical" or value is None or not spec.categories:
                continue
            if str(value).strip() not in spec.categories and value not in (
                serving.model.schema_.missing_values
            ):
                out.append(
                    f"{spec.name}: {value!r} was not seen in training; scored like a rare level"
                )
        return tuple(out)

    def _new_score(self, serving: ServingModel, lead_id: str, result: FastResult) -> NewScore:
        reasons = reason_records(result.reasons_up, result.reasons_down)
        contact, explored, propensity = result.contact, False, None
        if self.exploration is not None:
            contact, explored, propensity = self.exploration.decide(lead_id, result.contact)
        return NewScore(
            lead_id=lead_id,
            model_version=serving.version,
            score=result.score,
            score_100=result.score_100,
            segment=result.segment,
            contact=contact,
            reasons=reasons,
            explored=explored,
            propensity=propensity,
        )

    def score_leads(
        self,
        leads: Sequence[tuple[str, Mapping[str, Any]]],
        *,
        remember: bool = True,
        then: Callable[[Connection, list[LiveScore]], None] | None = None,
        display: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[LiveScore]:
        """Score leads given as ``(lead_id, attributes)`` and append the scores to history.

        With ``remember`` the attributes are merged into the stored leads, and with them
        ``display`` (lead id → fields that say who the lead is: name, company, owner …,
        stored for people to read, never given to the model). One store
        transaction for all of it (every score is stored or none); the store stamps the
        scores under the leads' lock, so concurrent scores of a lead keep their order.
        ``then`` is called inside that transaction, once the scores are added, with its
        connection and the scores: what it writes there commits with them, or neither
        does (the service stores an idempotent request's answer so).
        """
        if not leads:
            return []
        serving = self.slot.current
        # bad input raises here, before the store is touched; a single lead's reasons are
        # begun on the thread pool while this thread opens the store transaction
        finish = serving.scorer.begin([a for _, a in leads], self.reasons, POOL_SHARE_WITH_STORE)
        merged: dict[str, dict[str, Any]] = {}
        if remember:
            for lead_id, attributes in leads:
                merged.setdefault(lead_id, {}).update(attributes)
            for lead_id, fields in (display or {}).items():
                merged.setdefault(lead_id, {}).update(fields)
        with scoring(self.store, [lead_id for lead_id, _ in leads], merged) as transaction:
            results = finish()
            items = [
                self._new_score(serving, lead_id, result)
                for (lead_id, _), result in zip(leads, results, strict=True)
            ]
            records, deliveries = transaction.add(items)
            pins = transaction.overrides
            if then is not None:
                scored = self._live_scores(serving, leads, results, records, deliveries, pins)
                then(transaction.connection, scored)
                return scored
        return self._live_scores(serving, leads, results, records, deliveries, pins)

    def _live_scores(
        self,
        serving: ServingModel,
        leads: Sequence[tuple[str, Mapping[str, Any]]],
        results: Sequence[FastResult],
        records: Sequence[ScoreRecord],
        deliveries: Sequence[DeliveryRecord],
        overrides: Mapping[str, OverrideRecord],
    ) -> list[LiveScore]:
        queued: dict[str, int] = {}
        for delivery in deliveries:
            queued[delivery.lead_id] = queued.get(delivery.lead_id, 0) + 1
        scored = [
            LiveScore(
                lead_id=lead_id,
                result=result,
                record=record,
                model_version=serving.version,
                warnings=self._warnings(serving, attributes),
                notifications=queued.pop(lead_id, 0),
                override=overrides.get(lead_id),
            )
            for (lead_id, attributes), result, record in zip(leads, results, records, strict=True)
        ]
        if self.capacity is None:
            return scored
        # the team's capacity: each answer's contact under the period's quota, these
        # leads placed at their new scores (the store's read may not see them yet)
        found = decisions(self.store, self.capacity, [Placed(s.record, s.override) for s in scored])
        return [replace(s, capacity=d) for s, d in zip(scored, found, strict=True)]

    def score_lead(
        self,
        lead_id: str,
        attributes: Mapping[str, Any],
        display: Mapping[str, Any] | None = None,
    ) -> LiveScore:
        """:meth:`score_leads` for one lead (``display``: its display fields)."""
        shown = {lead_id: display} if display else None
        return self.score_leads([(lead_id, attributes)], display=shown)[0]

    def score_lead_now(
        self,
        lead_id: str,
        attributes: Mapping[str, Any],
        display: Mapping[str, Any] | None = None,
    ) -> LiveScore | None:
        """:meth:`score_lead` if the store can be written at once, else None (nothing
        stored): on SQLite, when neither this process's writers nor another process hold
        the lock and a connection is idle; never on PostgreSQL (a network round trip).

        What lets the service score a lead on its event loop without ever waiting for the
        database there: the usual case costs no hop to a worker thread and back (a fifth
        of a single lead's time, and most of its tail when the CPUs are busy); a busy
        store sends the request to a thread, where waiting is harmless.
        """
        if self.store.dialect != "sqlite":
            return None
        try:
            with self.store.without_waiting():
                return self.score_lead(lead_id, attributes, display)
        except UNAVAILABLE:  # busy or away: the caller retries where it may wait
            return None

    def ingest_events(
        self,
        lead_id: str,
        events: Sequence[Mapping[str, Any]],
        as_of: datetime | None = None,
        *,
        then: Callable[[Connection, EventIngest], None] | None = None,
    ) -> EventIngest:
        """Store events (duplicates dropped) and re-score the lead from all its events.

        The features are recomputed with the feature builder the model was trained with,
        as of ``as_of`` (default: now). A model trained on a plain lead table cannot turn
        events into features: the events are kept and the lead is not re-scored.
        ``then`` is called in the re-score's transaction, as :meth:`score_leads` does
        (not at all when the lead is not re-scored: the events alone are idempotent).
        """
        new = self.store.events.add(lead_id, events)
        serving = self.slot.current
        if not serving.scores_events:
            note = (
                "events stored; the serving model was trained on a lead table, not on event "
                "features, so they do not change the score"
            )
            return EventIngest(lead_id, len(events), new, None, note)
        row = self._inputs_from_store(serving, lead_id, as_of)
        if row is None:
            return EventIngest(lead_id, len(events), new, None, "no usable events for features")
        received = len(events)

        def stored(conn: Connection, scores: list[LiveScore]) -> None:
            if then is not None:
                then(conn, EventIngest(lead_id, received, new, scores[0]))

        scored = self.score_leads(
            [(lead_id, row)], remember=False, then=None if then is None else stored
        )[0]
        return EventIngest(lead_id, received, new, scored)

    def _inputs_from_store(
        self, serving: ServingModel, lead_id: str, as_of: datetime | None = None
    ) -> dict[str, Any] | None:
        """A model trained on event features: the lead's inputs from all its stored events
        (features as of ``as_of``, default now, with the feature code of training) and, for
        the inputs that come from the CRM (``features --leads``), its stored attributes, as
        batch scoring joins a CRM table. None when neither gives anything to score."""
        crm = serving.model.crm_fields
        stored = self.store.events.for_lead(lead_id)
        if stored:
            when = (as_of or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
            latest = max(e.time for e in stored).astimezone(UTC).replace(tzinfo=None)
            features = serving.model.event_features(
                events_frame(lead_id, stored), as_of=pd.Timestamp(max(when, latest))
            )
            if features.empty:
                return None
            row = {
                k: (None if isinstance(v, float) and np.isnan(v) else v)
                for k, v in features.iloc[0].to_dict().items()
            }
        elif crm:  # a CRM lead without behaviour yet: scored like one in a batch file
            row = {"lead_id": lead_id, **dict.fromkeys(serving.model.schema_.names)}
        else:
            return None
        if crm:
            lead = self.store.leads.get(lead_id)
            attributes = lead.attributes if lead is not None else {}
            row.update({name: attributes.get(name) for name in crm})
        return row

    def update_attributes(
        self,
        lead_id: str,
        attributes: Mapping[str, Any],
        display: Mapping[str, Any] | None = None,
    ) -> LeadUpdate:
        """Merge new attributes into the lead (CRM fields changed, enrichment arrived) and
        re-score it with everything known: its merged attributes for a lead-table model;
        its events and attributes for a model trained on event features (and CRM fields).
        ``display`` fields (name, company, owner …) are merged too; they alone change no
        score, so an update of nothing else is stored without re-scoring.
        """
        record = self.store.leads.upsert(lead_id, {**attributes, **(display or {})})
        if not attributes:
            note = "display fields stored; the score does not read them"
            return LeadUpdate(lead_id, dict(record.attributes), None, note)
        serving = self.slot.current
        if serving.scores_events:
            row = self._inputs_from_store(serving, lead_id)
            if row is None:
                note = (
                    "attributes stored; the serving model scores behaviour and this lead has "
                    "no events yet"
                )
                return LeadUpdate(lead_id, dict(record.attributes), None, note)
        else:
            names = serving.model.schema_.names
            row = {name: record.attributes.get(name) for name in names}
        scored = self.score_leads([(lead_id, row)], remember=False)[0]
        return LeadUpdate(lead_id, dict(record.attributes), scored)

    # ------------------------------------------------------------- outcomes and reads

    def record_outcome(
        self,
        lead_id: str,
        converted: bool,
        occurred_at: datetime | None = None,
        *,
        contacted: bool | None = None,
    ) -> OutcomeRecord:
        """Record that a known lead converted or was lost (and whether sales had contacted
        it: what judging the model on every lead weighs, see :mod:`leadscore.monitor`)."""
        if self.store.leads.get(lead_id) is None:
            raise NotFoundError(f"no lead with id {lead_id!r}: score it or post its events first")
        return self.store.outcomes.add(lead_id, converted, occurred_at, contacted=contacted)

    def lead(self, lead_id: str, history: int = 50) -> LeadView:
        """The lead's attributes, latest score, history (newest first) and trend."""
        state = lead_state(self.store, lead_id, history)
        if state is None:
            raise NotFoundError(f"no lead with id {lead_id!r}")
        stored, scores, outcome, override = state.lead, state.scores, state.outcome, state.override
        trend, change = trend_of(scores, self.trend_points)
        capacity = None
        if self.capacity is not None and scores:
            [capacity] = decisions(self.store, self.capacity, [Placed(scores[0], override)])
        return LeadView(
            lead_id=lead_id,
            attributes=dict(stored.attributes),
            latest=scores[0] if scores else None,
            history=scores,
            trend=trend,
            change=change,
            converted=outcome.converted if outcome is not None else None,
            override=override,
            capacity=capacity,
        )

    def work_queue(self, segment: str | None = None, limit: int = 50, offset: int = 0) -> WorkQueue:
        """Leads by their latest score, best first (optionally one segment), sales
        overrides respected, with the counts per segment (:func:`.overrides.work_queue`)."""
        return work_queue(self.store, segment, limit, offset)

    def quota(self) -> Quota | None:
        """The period's quota under the team's capacity (None: no capacity set)."""
        return None if self.capacity is None else period_quota(self.store, self.capacity)
