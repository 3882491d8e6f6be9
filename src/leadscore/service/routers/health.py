"""``/healthz`` (the process answers), ``/readyz`` (model and database usable), ``/metrics``
(a key with the ``read`` scope, unless ``service.metrics_public``)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from leadscore.service.schemas import HealthOut
from leadscore.service.security import metrics_reader

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
async def healthz() -> HealthOut:
    # async: answered on the event loop itself, never queued behind requests that hold
    # the thread pool's workers (a store waiting on a lock, say)
    return HealthOut(status="ok")


#: where readiness probes wait for the store: their own threads, so that a probe is never
#: queued behind requests that hold the shared pool's workers (it would time out and say
#: "not ready" for a busy but healthy service)
_PROBES = ThreadPoolExecutor(max_workers=2, thread_name_prefix="leadscore-readyz")


@router.get("/readyz", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def readyz(request: Request) -> Response:
    """Ready when a model is loaded and the store answers with its own data within
    ``service.store_wait_s``: one row of a real table is read, so a database that lost
    its tables (a file moved away, the wrong database) is not ready."""
    checks = {}
    slot = request.app.state.live.slot
    checks["model"] = f"version {slot.current.version}" if slot.ready else "not loaded"
    wait_s = request.app.state.settings.service.store_wait_s
    probe = asyncio.get_running_loop().run_in_executor(_PROBES, request.app.state.store.ping)
    try:
        await asyncio.wait_for(probe, timeout=wait_s)
        checks["database"] = "ok"
    except TimeoutError:
        checks["database"] = f"no answer within {wait_s:g} s"
    except Exception as exc:  # any failure means not ready; say which
        checks["database"] = f"unreachable: {type(exc).__name__}"
    ready = slot.ready and checks["database"] == "ok"
    # stopping (SIGTERM, see service/drain.py): a load balancer should send elsewhere
    draining = request.app.state.drain.active
    ready = ready and not draining
    body = HealthOut(
        status="draining" if draining else "ok" if ready else "not ready", checks=checks
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics_reader)])
def metrics(request: Request) -> Response:
    """Prometheus text; needs a key with the ``read`` scope unless
    ``service.metrics_public``."""
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
