"""``POST /v1/score`` and ``POST /v1/score/batch``: score leads from their attributes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from leadscore.service.deps import Live, Service, Serving, attribute_model, live, serving, too_large
from leadscore.service.inputs import check_attributes
from leadscore.service.schemas import BatchIn, BatchOut, LeadIn, ScoreOut
from leadscore.service.security import require
from leadscore.service.views import score_out

router = APIRouter(prefix="/v1/score", tags=["scoring"], dependencies=[Depends(require("score"))])


@router.post("", response_model=ScoreOut)
async def score_one(body: LeadIn, request: Request) -> ScoreOut:
    """Score one lead: 0–1 and 0–100, segment, contact decision, top reasons; stored in
    the lead's score history (and webhooks queued when it turns hot or jumps)."""
    # async, with the blocking part (model and store write) in one thread-pool call: a
    # sync route would also send its dependencies and the response check to the pool,
    # each a round trip between threads; validation and the response take microseconds
    scoring = await live(request)
    model = await serving(request)
    attributes = check_attributes(attribute_model(model), body.attributes, ("body", "attributes"))
    scored = await run_in_threadpool(scoring.score_lead, body.lead_id, attributes)
    request.app.state.metrics.scores.labels(scored.result.segment).inc()
    return score_out(scored)


@router.post("/batch", response_model=BatchOut)
def score_batch(
    body: BatchIn,
    request: Request,
    scoring: Live,
    model: Serving,
    settings: Service,
) -> BatchOut:
    """Score many leads in one call (at most ``max_batch``; more answers 413)."""
    if len(body.leads) > settings.max_batch:
        raise too_large("leads", len(body.leads), settings.max_batch)
    schema = attribute_model(model)
    leads = [
        (
            lead.lead_id,
            check_attributes(schema, lead.attributes, ("body", "leads", i, "attributes")),
        )
        for i, lead in enumerate(body.leads)
    ]
    scored = scoring.score_leads(leads)
    for item in scored:
        request.app.state.metrics.scores.labels(item.result.segment).inc()
    return BatchOut(scores=[score_out(s) for s in scored])
