"""``GET /v1/leads/{id}`` (score, history, trend) and ``GET /v1/leads`` (the work queue)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from leadscore.live.capacity import queue_contacts
from leadscore.service.bad_input import NO_CONTROLS
from leadscore.service.deps import Live
from leadscore.service.schemas import ErrorOut, LeadOut, QueueOut, Segment
from leadscore.service.security import require
from leadscore.service.views import capacity_out, lead_out, queue_item

router = APIRouter(prefix="/v1/leads", tags=["leads"], dependencies=[Depends(require("read"))])


@router.get("", response_model=QueueOut)
def work_queue(
    scoring: Live,
    segment: Annotated[Segment | None, Query(description="Only this segment.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Response:
    """The prioritised work queue: leads by their latest score, best first; sales
    overrides respected (excluded leads left out, pinned leads first in their segment).
    With a capacity set, ``contact`` marks the period's leads within the quota, and
    ``capacity`` says how much of it is used."""
    queue = scoring.work_queue(segment, limit, offset)
    quota = scoring.quota()
    found = [None] * len(queue.leads) if quota is None else queue_contacts(quota, queue.leads)
    # a Response is sent as it is: a returned model FastAPI would check against QueueOut
    # once more, which for a page of leads costs about as much as building it
    out = QueueOut(
        segment=segment,
        counts=queue.counts,
        leads=[
            queue_item(offset + i + 1, q, d)
            for i, (q, d) in enumerate(zip(queue.leads, found, strict=True))
        ],
        capacity=capacity_out(quota),
    )
    return Response(out.model_dump_json(by_alias=True), media_type="application/json")


@router.get("/{lead_id}", response_model=LeadOut, responses={404: {"model": ErrorOut}})
def get_lead(
    scoring: Live,
    lead_id: Annotated[str, Path(min_length=1, max_length=200, pattern=NO_CONTROLS)],
    history: Annotated[int, Query(ge=1, le=1000, description="Most recent scores.")] = 50,
) -> LeadOut:
    """A lead's latest score, its score history (newest first) and trend."""
    return lead_out(scoring.lead(lead_id, history))
