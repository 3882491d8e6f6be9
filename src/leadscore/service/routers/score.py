"""``POST /v1/score`` and ``POST /v1/score/batch``: score leads from their attributes.

``POST /v1/score`` is the request the sales tools send most, so its route is written for
its cost (``bench/service_overhead.py`` measures it): async; the API key checked in one
dependency (:func:`~leadscore.service.security.require_direct`: the key cache, and the
store in a worker thread only on a miss) where every other route has three; the body read
by FastAPI into the same ``LeadIn`` model; and a ready-made JSON
:class:`~starlette.responses.Response`, which FastAPI sends as it is — a returned model it
would check against ``response_model`` once more, which costs more than making it
(``response_model`` stays, for the OpenAPI document). The model and the store write run
on the event loop only when the store can be written at once (SQLite, its lock free:
:meth:`~leadscore.live.LiveScoring.score_lead_now` gives up instead of waiting), which
saves the hop to a worker thread and back (~0.3 ms of ~1.9, and most of the tail);
otherwise in one worker-thread call, as always on PostgreSQL: a store that waits
(another process holding the write lock, a slow network) never holds the event loop,
nor ``/healthz`` with it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from leadscore.live import LiveScore
from leadscore.service.deps import Live, Service, Serving, attribute_model, live, serving, too_large
from leadscore.service.idempotency import IDEMPOTENCY_KEY, Answer, answering, once
from leadscore.service.inputs import check_attributes, check_display
from leadscore.service.schemas import BatchIn, BatchOut, LeadIn, ScoreOut
from leadscore.service.security import KEY_SECURITY, require, require_direct
from leadscore.service.views import score_out

router = APIRouter(prefix="/v1/score", tags=["scoring"])


@router.post(
    "",
    response_model=ScoreOut,
    dependencies=[Depends(require_direct("score"))],
    openapi_extra=KEY_SECURITY,
)
async def score_one(body: LeadIn, request: Request) -> Response:
    """Score one lead: 0–1 and 0–100, segment, contact decision, top reasons; stored in
    the lead's score history (and webhooks queued when it turns hot or jumps)."""
    # async, with the blocking part (model and store write) in one thread-pool call: a
    # sync route would also send its dependencies to the pool, each a round trip between
    # threads; validation and the response take microseconds
    scoring = await live(request)
    model = await serving(request)
    schema = attribute_model(model)
    attributes = check_attributes(schema, body.attributes, ("body", "attributes"))
    display = check_display(schema, body.display, ("body", "display"))
    if IDEMPOTENCY_KEY in request.headers:  # a retry-safe request (service/idempotency.py)

        def work(answer: Answer) -> str:
            then = answering(answer, lambda s: score_out(s[0]).model_dump_json(by_alias=True))
            shown = {body.lead_id: display} if display else None
            scored = scoring.score_leads([(body.lead_id, attributes)], then=then, display=shown)[0]
            request.app.state.metrics.scores.labels(scored.result.segment).inc()
            return answer.body or score_out(scored).model_dump_json(by_alias=True)

        return await run_in_threadpool(once, request, body, work)
    # on the event loop when the store can be written at once (SQLite, no lock held: no
    # wait, and no hop to a thread and back); else in a thread, which may wait for it
    scored = scoring.score_lead_now(body.lead_id, attributes, display)
    if scored is None:
        scored = await run_in_threadpool(scoring.score_lead, body.lead_id, attributes, display)
    request.app.state.metrics.scores.labels(scored.result.segment).inc()
    # a Response is sent as it is: no second check against ScoreOut
    payload = score_out(scored).model_dump_json(by_alias=True)
    return Response(payload, media_type="application/json")


@router.post("/batch", response_model=BatchOut, dependencies=[Depends(require("score"))])
def score_batch(
    body: BatchIn,
    request: Request,
    scoring: Live,
    model: Serving,
    settings: Service,
) -> BatchOut | Response:
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
    display = {
        lead.lead_id: check_display(schema, lead.display, ("body", "leads", i, "display"))
        for i, lead in enumerate(body.leads)
        if lead.display
    }
    if IDEMPOTENCY_KEY in request.headers:  # a retry-safe request (service/idempotency.py)

        def work(answer: Answer) -> str:
            then = answering(answer, lambda s: batch_out(s).model_dump_json(by_alias=True))
            scored = scoring.score_leads(leads, then=then, display=display)
            count(request, scored)
            return answer.body or batch_out(scored).model_dump_json(by_alias=True)

        return once(request, body, work)
    scored = scoring.score_leads(leads, display=display)
    count(request, scored)
    return batch_out(scored)


def batch_out(scored: list[LiveScore]) -> BatchOut:
    """The answer of a scored batch."""
    return BatchOut(scores=[score_out(s) for s in scored])


def count(request: Request, scored: list[LiveScore]) -> None:
    """Count the scores in the service's metrics, by segment."""
    for item in scored:
        request.app.state.metrics.scores.labels(item.result.segment).inc()
