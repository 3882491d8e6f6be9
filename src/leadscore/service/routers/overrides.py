"""``PUT /v1/leads/{id}/override`` and ``DELETE /v1/leads/{id}/override``: a sales
correction of a lead's segment (scope ``ingest``, or ``admin``); the author is the API
key's name. The work is :mod:`leadscore.live.overrides`'s.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from starlette.concurrency import run_in_threadpool

from leadscore.live.overrides import clear_override, set_override
from leadscore.service.bad_input import NO_CONTROLS
from leadscore.service.deps import Live
from leadscore.service.schemas import ErrorOut, OverrideChangeOut, OverrideIn
from leadscore.service.security import require
from leadscore.service.views import override_change_out
from leadscore.store import ApiKeyRecord

router = APIRouter(prefix="/v1/leads", tags=["overrides"])

LeadPath = Annotated[str, Path(min_length=1, max_length=200, pattern=NO_CONTROLS)]
Author = Annotated[ApiKeyRecord, Depends(require("ingest"))]
ANSWERS: dict[int | str, dict[str, object]] = {404: {"model": ErrorOut}}


@router.put("/{lead_id}/override", response_model=OverrideChangeOut, responses=ANSWERS)
async def put_override(
    lead_id: LeadPath, body: OverrideIn, scoring: Live, key: Author
) -> OverrideChangeOut:
    """Pin a known lead's segment (hot, warm, cold) or exclude it from the work queue, with a
    reason and optionally an end; replaces its current override. Turning the lead hot
    queues a `lead.hot` webhook (with `overridden: true`) in the same transaction."""
    change = await run_in_threadpool(
        set_override, scoring.store, lead_id, body.segment, body.reason, key.name, body.until
    )
    return override_change_out(change)


@router.delete("/{lead_id}/override", response_model=OverrideChangeOut, responses=ANSWERS)
async def delete_override(lead_id: LeadPath, scoring: Live, key: Author) -> OverrideChangeOut:
    """End a known lead's override now (kept as data); `previous` is the override cleared,
    null when none was in force (nothing changes: a repeated DELETE is harmless)."""
    change = await run_in_threadpool(clear_override, scoring.store, lead_id, key.name)
    return override_change_out(change)
