"""Store records and live results as response bodies."""

from __future__ import annotations

from typing import Any

from leadscore.live import LeadView, LiveScore
from leadscore.live.overrides import OverrideChange, QueuedLead, effective_contact
from leadscore.service.schemas import (
    HistoryPoint,
    LeadOut,
    OverrideChangeOut,
    OverrideOut,
    QueueItem,
    ReasonOut,
    ScoreOut,
)
from leadscore.store import OverrideRecord, ScoreRecord


def _reasons(stored: list[Any] | None) -> list[ReasonOut]:
    return [ReasonOut.model_validate(r) for r in stored or []]


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


def score_out(scored: LiveScore) -> ScoreOut:
    """A score just made: the stored record, with what scoring it noticed."""
    return record_out(scored.record, scored.override).model_copy(
        update={"warnings": list(scored.warnings), "notifications": scored.notifications}
    )


def record_out(record: ScoreRecord, override: OverrideRecord | None = None) -> ScoreOut:
    """A stored score as answered, the segment (and contact) of a sales override in force
    over the model's; the score and the model's segment stay the model's."""
    return ScoreOut(
        lead_id=record.lead_id,
        score=record.score,
        score_100=record.score_100,
        segment=record.segment if override is None else override.segment,  # type: ignore[arg-type]
        contact=effective_contact(record.contact, override),
        reasons=_reasons(record.reasons),
        model_version=record.model_version,
        scored_at=record.scored_at,
        overridden=override is not None,
        model_segment=record.segment,  # type: ignore[arg-type]
        override=override_out(override),
    )


def lead_out(view: LeadView) -> LeadOut:
    return LeadOut(
        lead_id=view.lead_id,
        attributes=view.attributes,
        latest=record_out(view.latest, view.override) if view.latest is not None else None,
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


def queue_item(rank: int, queued: QueuedLead) -> QueueItem:
    record = queued.record
    return QueueItem(
        rank=rank,
        lead_id=record.lead_id,
        score=record.score,
        score_100=record.score_100,
        segment=queued.segment,  # type: ignore[arg-type]
        contact=queued.contact,
        reasons=_reasons(record.reasons),
        scored_at=record.scored_at,
        overridden=queued.override is not None,
        model_segment=record.segment,  # type: ignore[arg-type]
        override=override_out(queued.override),
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
