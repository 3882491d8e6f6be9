"""Store records and live results as response bodies."""

from __future__ import annotations

from typing import Any

from leadscore.live import LeadView, LiveScore
from leadscore.service.schemas import (
    HistoryPoint,
    LeadOut,
    QueueItem,
    ReasonOut,
    ScoreOut,
)
from leadscore.store import ScoreRecord


def _reasons(stored: list[Any] | None) -> list[ReasonOut]:
    return [ReasonOut.model_validate(r) for r in stored or []]


def score_out(scored: LiveScore) -> ScoreOut:
    """A score just made: the stored record, with what scoring it noticed."""
    return record_out(scored.record).model_copy(
        update={"warnings": list(scored.warnings), "notifications": scored.notifications}
    )


def record_out(record: ScoreRecord) -> ScoreOut:
    return ScoreOut(
        lead_id=record.lead_id,
        score=record.score,
        score_100=record.score_100,
        segment=record.segment,  # type: ignore[arg-type]
        contact=record.contact,
        reasons=_reasons(record.reasons),
        model_version=record.model_version,
        scored_at=record.scored_at,
    )


def lead_out(view: LeadView) -> LeadOut:
    return LeadOut(
        lead_id=view.lead_id,
        attributes=view.attributes,
        latest=record_out(view.latest) if view.latest is not None else None,
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
    )  # fmt: skip


def queue_item(rank: int, record: ScoreRecord) -> QueueItem:
    return QueueItem(
        rank=rank,
        lead_id=record.lead_id,
        score=record.score,
        score_100=record.score_100,
        segment=record.segment,  # type: ignore[arg-type]
        contact=record.contact,
        reasons=_reasons(record.reasons),
        scored_at=record.scored_at,
    )
