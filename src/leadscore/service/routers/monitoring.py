"""``GET /v1/monitoring/report``, ``/movers`` and ``/drift``: how scores, inputs and outcomes
move over a period (:mod:`leadscore.monitor`); scope ``read``. ``POST
/v1/monitoring/movers/notify`` queues the period's ``lead.moved`` webhook alerts
(:mod:`leadscore.monitor.alerts`); scope ``admin``.

The work is the monitoring functions'; ``leadscore monitor`` and the dashboard's Monitoring
page call the same ones, so the three give the same numbers for the same store.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from leadscore.monitor.alerts import notify_movers
from leadscore.monitor.movers import movers
from leadscore.monitor.report import build_report, period_drift
from leadscore.service.deps import Live, Serving
from leadscore.service.monitoring_schemas import (
    DriftOut,
    MoversOut,
    NotifyIn,
    NotifyOut,
    ReportOut,
)
from leadscore.service.security import require

router = APIRouter(
    prefix="/v1/monitoring", tags=["monitoring"], dependencies=[Depends(require("read"))]
)

Since = Annotated[
    datetime | None, Query(description="Start of the period (default: 30 days, movers 1 day).")
]
Until = Annotated[datetime | None, Query(description="End of the period (default: now).")]
MinJump = Annotated[int, Query(ge=0, le=100, description="Smallest move, in points.")]


def _json(body: dict[str, Any]) -> Response:
    # sent as built: FastAPI would check a returned model against the schema once more
    return Response(json.dumps(body, allow_nan=False), media_type="application/json")


def _period(error: ValueError) -> HTTPException:
    return HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, str(error))


@router.get("/report", response_model=ReportOut)
def report(
    request: Request,
    scoring: Live,
    model: Serving,
    since: Since = None,
    until: Until = None,
    min_jump: MinJump = 10,
    freq: Annotated[Literal["week", "month"], Query(description="Cohorts by.")] = "week",
) -> Response:
    """The monitoring report of the period: movers, drift, cohorts, outcomes against
    predictions and the performance estimated from the scores alone, with alerts."""
    business = request.app.state.settings.business
    try:
        built = build_report(
            scoring.store, model.scorer, business,
            start=since, end=until, min_jump=min_jump, freq=freq, model_version=model.version,
        )  # fmt: skip
    except ValueError as error:
        raise _period(error) from None
    return _json(built.to_dict())


@router.get("/movers", response_model=MoversOut)
def movers_of(
    scoring: Live,
    model: Serving,
    since: Since = None,
    until: Until = None,
    min_jump: MinJump = 10,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """The leads whose score moved most over the period (default: the last day), with
    the causes (behaviour, attributes, model) and the fields behind each move."""
    end = until or datetime.now(UTC)
    start = since or end - timedelta(days=1)
    try:
        found = movers(
            scoring.store, model.scorer, start=start, end=end, min_jump=min_jump, limit=limit
        )
    except ValueError as error:
        raise _period(error) from None
    body = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "min_jump": min_jump,
        "movers": [m.to_dict() for m in found],
    }
    return _json(body)


@router.post("/movers/notify", response_model=NotifyOut, dependencies=[Depends(require("admin"))])
def notify(scoring: Live, model: Serving, body: NotifyIn | None = None) -> NotifyOut:
    """Queue a ``lead.moved`` delivery, with the move's causes and reasons, to each active
    webhook subscribed to ``moved`` for each lead whose score moved at least ``min_move``
    points over the period (default: the last day), up or down; a move alerted already is
    not queued again. For a scheduler; the same as ``leadscore monitor notify``."""
    asked = body or NotifyIn()
    try:
        alerts = notify_movers(
            scoring.store, model.scorer, start=asked.since, end=asked.until,
            min_move=asked.min_move, limit=asked.limit,
        )  # fmt: skip
    except ValueError as error:
        raise _period(error) from None
    return NotifyOut.model_validate(alerts.to_dict())


@router.get("/drift", response_model=DriftOut)
def drift(
    scoring: Live,
    model: Serving,
    since: Since = None,
    until: Until = None,
) -> Response:
    """The period's leads' inputs and scores against the model's training leads, by the
    population stability index (0.1 watch, 0.25 drift)."""
    try:
        found, notes = period_drift(
            scoring.store, model.scorer, start=since, end=until, model_version=model.version
        )
    except ValueError as error:
        raise _period(error) from None
    if found is None:
        reason = "; ".join(notes) or "no leads scored in the period"
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no drift to report: {reason}")
    return _json({**found.to_dict(), "alerts": [f.feature for f in found.alerts]})
