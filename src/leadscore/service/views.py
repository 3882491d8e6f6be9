"""Store records and live results as response bodies."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from leadscore.live import LeadView, LiveScore
from leadscore.live.capacity import CapacityDecision, Quota
from leadscore.live.overrides import OverrideChange, QueuedLead, effective_contact
from leadscore.service.schemas import (
    CapacityOut,
    HistoryPoint,
    LeadOut,
    OverrideChangeOut,
    OverrideOut,
    QueueItem,
    ReasonOut,
    ScoreOut,
)
from leadscore.store import OverrideRecord, ScoreRecord

#: a lead's stored reasons validated in one call (a page of the queue holds hundreds)
_REASON_LIST = TypeAdapter(list[ReasonOut])


def _reasons(stored: list[Any] | None) -> list[ReasonOut]:
    return _REASON_LIST.validate_python(stored or [])


def override_out(override: OverrideRecord | None) -> OverrideOut | None:
    """A sales override as answered (None: none in force)."""
    if override is None:
        return None
    return OverrideOut(
        segment=override.segment,  # type: ignore[arg-type]
        reason=override.reason,
        author=override.author,
        since=override.created_at,
        until=override.until,
    )


def capacity_out(
    quota: Quota | None,
    decision: CapacityDecision | None = None,
    model_contact: bool | None = None,
) -> CapacityOut | None:
    """The period's quota as answered (None: no capacity set); with a lead's decision,
    whether it holds a slot (and the model's own contact decision)."""
    if decision is not None:
        quota = decision.quota
    if quota is None:
        return None
    return CapacityOut(
        limit=quota.limit,
        used=quota.used,
        period=quota.period,  # type: ignore[arg-type]
        since=quota.since,
        cutoff=quota.cutoff,
        cutoff_100=quota.cutoff_100,
        within=None if decision is None else decision.within,
        model_contact=model_contact,
    )


def score_out(scored: LiveScore) -> ScoreOut:
    """A score just made: the stored record, with what scoring it noticed."""
    return record_out(scored.record, scored.override, scored.capacity).model_copy(
        update={"warnings": list(scored.warnings), "notifications": scored.notifications}
    )


def record_out(
    record: ScoreRecord,
    override: OverrideRecord | None = None,
    capacity: CapacityDecision | None = None,
) -> ScoreOut:
    """A stored score as answered, the segment (and contact) of a sales override in force
    over the model's; the score and the model's segment stay the model's. Under a
    capacity the contact is the quota's (an override to hot, cold or exclude still wins)."""
    return ScoreOut(
        lead_id=record.lead_id,
        score=record.score,
        score_100=record.score_100,
        segment=record.segment if override is None else override.segment,  # type: ignore[arg-type]
        contact=_contact(record, override, capacity),
        explored=record.explored,
        propensity=record.propensity,
        reasons=_reasons(record.reasons),
        model_version=record.model_version,
        scored_at=record.scored_at,
        overridden=override is not None,
        model_segment=record.segment,  # type: ignore[arg-type]
        override=override_out(override),
        capacity=capacity_out(None, capacity, record.contact),
    )


def _contact(
    record: ScoreRecord, override: OverrideRecord | None, capacity: CapacityDecision | None
) -> bool:
    """Whether to contact the lead as answered: under a capacity the quota's decision, an
    explored lead still contacted (exploration is on top of the quota); an override wins."""
    if capacity is None:
        return effective_contact(record.contact, override)
    return effective_contact(capacity.contact or record.explored, override)


def lead_out(view: LeadView) -> LeadOut:
    return LeadOut(
        lead_id=view.lead_id,
        attributes=view.attributes,
        latest=(
            record_out(view.latest, view.override, view.capacity)
            if view.latest is not None
            else None
        ),
        trend=view.trend,  # type: ignore[arg-type]
        change=view.change,
        converted=view.converted,
        history=[
            HistoryPoint(
                score=r.score, score_100=r.score_100, segment=r.segment,  # type: ignore[arg-type]
                model_version=r.model_version, scored_at=r.scored_at,
            )
            for r in view.history
        ],
        override=override_out(view.override),
    )  # fmt: skip


def queue_item(
    rank: int, queued: QueuedLead, capacity: CapacityDecision | None = None
) -> QueueItem:
    """One lead of the work queue as answered; under a capacity, contacted only within
    the period's quota (an override to hot, cold or exclude still wins)."""
    record = queued.record
    return QueueItem(
        rank=rank,
        lead_id=record.lead_id,
        score=record.score,
        score_100=record.score_100,
        segment=queued.segment,  # type: ignore[arg-type]
        contact=_contact(record, queued.override, capacity),
        explored=record.explored,
        propensity=record.propensity,
        reasons=_reasons(record.reasons),
        scored_at=record.scored_at,
        overridden=queued.override is not None,
        model_segment=record.segment,  # type: ignore[arg-type]
        override=override_out(queued.override),
        within_capacity=None if capacity is None else capacity.within,
    )


def override_change_out(change: OverrideChange) -> OverrideChangeOut:
    """What setting or clearing an override did, as answered."""
    return OverrideChangeOut(
        lead_id=change.lead_id,
        segment=change.segment,  # type: ignore[arg-type]
        model_segment=change.model_segment,  # type: ignore[arg-type]
        override=override_out(change.override),
        previous=override_out(change.previous),
        notifications=len(change.deliveries),
    )
