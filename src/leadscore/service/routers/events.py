"""``POST /v1/events``: a lead's behaviour events; stored, de-duplicated, lead re-scored."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from leadscore.service.deps import Live, Service, serving, too_large
from leadscore.service.schemas import EventIn, EventsIn, EventsOut
from leadscore.service.security import require
from leadscore.service.views import score_out

router = APIRouter(prefix="/v1/events", tags=["events"], dependencies=[Depends(require("ingest"))])


def as_stored(event: EventIn) -> dict[str, object]:
    """The event as the store keeps it: schema fields and custom properties side by side."""
    fields = event.model_dump(exclude={"properties"}, exclude_none=True)
    return {**event.properties, **fields}


@router.post("", response_model=EventsOut, dependencies=[Depends(serving)])
def post_events(
    body: EventsIn,
    request: Request,
    scoring: Live,
    settings: Service,
) -> EventsOut:
    """Store events (re-posted ones are ignored) and re-score the lead from all its
    events, with the feature code the model was trained with."""
    if len(body.events) > settings.max_events:
        raise too_large("events", len(body.events), settings.max_events)
    result = scoring.ingest_events(body.lead_id, [as_stored(e) for e in body.events])
    request.app.state.metrics.events.labels("new").inc(result.new)
    request.app.state.metrics.events.labels("duplicate").inc(result.received - result.new)
    if result.scored is not None:
        request.app.state.metrics.scores.labels(result.scored.result.segment).inc()
    return EventsOut(
        lead_id=result.lead_id,
        received=result.received,
        new=result.new,
        score=score_out(result.scored) if result.scored is not None else None,
        note=result.note,
    )
