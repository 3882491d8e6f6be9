"""``POST /v1/outcomes``: a lead converted or was lost."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from leadscore.live import LiveScoring
from leadscore.service.deps import Live
from leadscore.service.idempotency import IDEMPOTENCY_KEY, once
from leadscore.service.schemas import ErrorOut, OutcomeIn, OutcomeOut
from leadscore.service.security import require

router = APIRouter(
    prefix="/v1/outcomes", tags=["outcomes"], dependencies=[Depends(require("ingest"))]
)


@router.post("", response_model=OutcomeOut, responses={404: {"model": ErrorOut}})
def post_outcome(body: OutcomeIn, request: Request, scoring: Live) -> OutcomeOut | Response:
    """Record the outcome of a known lead (for monitoring and retraining)."""
    if IDEMPOTENCY_KEY in request.headers:  # a retry-safe request (service/idempotency.py)
        # the answer is stored just after the outcome, not with it: see service/idempotency
        return once(request, body, lambda _: record(scoring, body).model_dump_json())
    return record(scoring, body)


def record(scoring: LiveScoring, body: OutcomeIn) -> OutcomeOut:
    """Record the outcome; its answer."""
    outcome = scoring.record_outcome(
        body.lead_id, body.converted, body.occurred_at, contacted=body.contacted
    )
    return OutcomeOut(
        lead_id=outcome.lead_id,
        converted=outcome.converted,
        occurred_at=outcome.occurred_at,
        recorded_at=outcome.recorded_at,
        contacted=outcome.contacted,
    )
