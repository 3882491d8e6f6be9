"""``POST /v1/events``: a lead's behaviour events; stored, de-duplicated, lead re-scored."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from leadscore.live import EventIngest
from leadscore.service.deps import Live, Service, serving, too_large
from leadscore.service.idempotency import IDEMPOTENCY_KEY, Answer, answering, once
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
) -> EventsOut | Response:
    """Store events (re-posted ones are ignored) and re-score the lead from all its
    events, with the feature code the model was trained with."""
    if len(body.events) > settings.max_events:
        raise too_large("events", len(body.events), settings.max_events)
    events = [as_stored(e) for e in body.events]
    if IDEMPOTENCY_KEY in request.headers:  # a retry-safe request (service/idempotency.py)

        def work(answer: Answer) -> str:
            then = answering(answer, lambda r: events_out(r).model_dump_json(by_alias=True))
            result = scoring.ingest_events(body.lead_id, events, then=then)
            count(request, result)
            return answer.body or events_out(result).model_dump_json(by_alias=True)

        return once(request, body, work)
    result = scoring.ingest_events(body.lead_id, events)
    count(request, result)
    return events_out(result)


def count(request: Request, result: EventIngest) -> None:
    """Count the events (new and re-posted) and the score in the service's metrics."""
    request.app.state.metrics.events.labels("new").inc(result.new)
    request.app.state.metrics.events.labels("duplicate").inc(result.received - result.new)
    if result.scored is not None:
        request.app.state.metrics.scores.labels(result.scored.result.segment).inc()


def events_out(result: EventIngest) -> EventsOut:
    """The answer of posted events."""
    return EventsOut(
        lead_id=result.lead_id,
        received=result.received,
        new=result.new,
        score=score_out(result.scored) if result.scored is not None else None,
        note=result.note,
    )
