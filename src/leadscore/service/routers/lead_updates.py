"""``PATCH /v1/leads/{id}``: a lead's attributes changed (CRM fields, enrichment); the
lead is re-scored with everything known about it (its attributes, and its events for a
model trained on behaviour)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from leadscore.live import LeadUpdate
from leadscore.service.bad_input import NO_CONTROLS
from leadscore.service.deps import Live, Serving, attribute_model
from leadscore.service.inputs import check_display, check_some_attributes
from leadscore.service.schemas import AttributesIn, ErrorOut, LeadUpdateOut
from leadscore.service.security import require
from leadscore.service.views import score_out

router = APIRouter(prefix="/v1/leads", tags=["leads"], dependencies=[Depends(require("ingest"))])


@router.patch("/{lead_id}", response_model=LeadUpdateOut, responses={422: {"model": ErrorOut}})
def update_lead(
    body: AttributesIn,
    request: Request,
    scoring: Live,
    model: Serving,
    lead_id: Annotated[str, Path(min_length=1, max_length=200, pattern=NO_CONTROLS)],
) -> LeadUpdateOut:
    """Merge the given attributes into the lead (fields not given keep their values; the
    lead is created if new) and re-score it: with its attributes, and for a model trained
    on events (and CRM fields) with all its events too. Every change is kept, so training
    from the store sees each lead's fields as they were at its outcome."""
    schema = attribute_model(model)
    given = (
        check_some_attributes(schema, body.attributes, ("body", "attributes"))
        if body.attributes
        else {}
    )
    display = check_display(schema, body.display, ("body", "display"))
    update = scoring.update_attributes(lead_id, given, display)
    if update.scored is not None:
        request.app.state.metrics.scores.labels(update.scored.result.segment).inc()
    return lead_update_out(update)


def lead_update_out(update: LeadUpdate) -> LeadUpdateOut:
    """The answer of an attribute update."""
    return LeadUpdateOut(
        lead_id=update.lead_id,
        attributes=update.attributes,
        score=score_out(update.scored) if update.scored is not None else None,
        note=update.note,
    )
