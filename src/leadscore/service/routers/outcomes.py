"""``POST /v1/outcomes``: a lead converted or was lost."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from leadscore.service.deps import Live
from leadscore.service.schemas import ErrorOut, OutcomeIn, OutcomeOut
from leadscore.service.security import require

router = APIRouter(
    prefix="/v1/outcomes", tags=["outcomes"], dependencies=[Depends(require("ingest"))]
)


@router.post("", response_model=OutcomeOut, responses={404: {"model": ErrorOut}})
def post_outcome(body: OutcomeIn, scoring: Live) -> OutcomeOut:
    """Record the outcome of a known lead (for monitoring and retraining)."""
    outcome = scoring.record_outcome(body.lead_id, body.converted, body.occurred_at)
    return OutcomeOut(
        lead_id=outcome.lead_id,
        converted=outcome.converted,
        occurred_at=outcome.occurred_at,
        recorded_at=outcome.recorded_at,
    )
