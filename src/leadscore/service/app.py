"""The FastAPI application: routers, error handlers, limits, metrics, lifespan.

Example (what ``leadscore serve`` does, with the champion of the registry)::

    app = create_app(service_settings())
    uvicorn.run(app, port=8000)
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from leadscore import __version__
from leadscore.config import Settings, resolve_settings
from leadscore.errors import LeadscoreError
from leadscore.live import LiveScoring, ModelSlot
from leadscore.live.watch import ModelWatcher
from leadscore.scoring.exploration import ExplorationPolicy
from leadscore.service.bad_input import install as refuse_bad_input
from leadscore.service.deps import attribute_model
from leadscore.service.docs import add_docs
from leadscore.service.drain import install as drain_on_sigterm
from leadscore.service.edge import KeyFirst, SecurityHeaders, around_everything
from leadscore.service.limits import BodyLimit
from leadscore.service.metrics import Metrics, MetricsMiddleware
from leadscore.service.routers import (
    events,
    health,
    lead_updates,
    leads,
    models,
    monitoring,
    outcomes,
    overrides,
    score,
)
from leadscore.service.unavailable import install as answer_unavailable
from leadscore.store import NotFoundError, Store, read_saved_settings
from leadscore.store.checkpoint import Checkpointer
from leadscore.webhooks.dispatcher import WebhookDispatcher

log = logging.getLogger("leadscore.service")

DESCRIPTION = """Real-time lead scoring. Every request needs an API key
(`leadscore keys create --scope score`) as `Authorization: Bearer <key>` or `X-API-Key`.
Scopes: **score**, **ingest** (events, outcomes, sales overrides), **read** (leads, queue,
models),
**admin** (everything, and model reload)."""


def _not_found(_: Request, exc: Exception) -> JSONResponse:
    message = exc.args[0] if exc.args else str(exc)
    return JSONResponse({"detail": str(message)}, status_code=status.HTTP_404_NOT_FOUND)


def _unprocessable(_: Request, exc: Exception) -> JSONResponse:
    # a user-fixable problem found past validation (e.g. a value the features cannot read)
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def service_settings(config: str | Path | None = None) -> Settings:
    """The service's settings: the file, the environment (where ``leadscore serve`` passes
    its flags to its workers) and the values saved from the dashboard in the score store.

    Parameters
    ----------
    config:
        The settings file (default: ``LEADSCORE_CONFIG``, else ``./leadscore.toml``).

    Example
    -------
    >>> service_settings().service.port
    8000
    """
    resolved = resolve_settings(config, saved=read_saved_settings)
    for note in resolved.notes:
        log.warning("settings: %s", note)
    return resolved.settings


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    slot: ModelSlot | None = None,
    deliver_webhooks: bool = True,
) -> FastAPI:
    """The scoring API.

    Parameters
    ----------
    settings:
        Project settings; default: :func:`service_settings` (``leadscore.toml``,
        ``LEADSCORE_*``, the values saved from the dashboard).
    store:
        The score store; default: ``settings.database_url`` (migrated on start).
    slot:
        The model to serve; default: ``settings.service.model`` (the champion), loaded on
        start.
    deliver_webhooks:
        Run the webhook dispatcher in the background (off in tests that drive it).
    """
    settings = settings or service_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = app.state.store is None  # a store we open here, we close here
        if owned:
            app.state.store = Store(settings.database_url, wait_s=settings.service.store_wait_s)
        chosen = slot or ModelSlot.load(settings.service.model, settings)
        # each model's request model is built before the model is swapped in, not by the
        # first request that needs it
        if attribute_model not in chosen.preparers:  # (a slot may serve more than one app)
            chosen.preparers.append(attribute_model)
        attribute_model(chosen.current)
        app.state.live = LiveScoring(
            chosen,
            app.state.store,
            reasons=settings.service.reasons,
            trend_points=settings.service.trend_points,
            capacity=settings.capacity,
            exploration=ExplorationPolicy.from_settings(settings),
        )
        metrics.serving(chosen.current.version)
        checkpointer = Checkpointer(app.state.store, settings.service.checkpoint_interval_s).start()
        watcher = None
        if settings.service.model_check_s > 0:
            watcher = ModelWatcher(
                chosen, settings.service.model_check_s, lambda model: models.after_swap(app, model)
            ).start()
        dispatcher = None
        if deliver_webhooks:
            dispatcher = WebhookDispatcher(app.state.store)
            dispatcher.start(settings.service.webhook_interval_s)
        log.info("serving model version %s", chosen.current.version)
        # Everything loaded so far (libraries, the model) lives as long as the process: out
        # of the collector's sight, so that a full collection does not walk millions of
        # objects in the middle of a request (tens of milliseconds of tail latency).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if watcher is not None:
                watcher.stop()
            checkpointer.stop()
            if dispatcher is not None:
                dispatcher.stop()
            if owned:
                app.state.store.close()

    app = FastAPI(
        title="leadscore",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from packaged assets (add_docs), not from a CDN
        redoc_url=None,  # no ReDoc: its page loads its logo from its maker's site
    )
    app.state.settings = settings
    app.state.store = store
    app.state.metrics = metrics
    for router in (
        score.router, events.router, outcomes.router, leads.router, lead_updates.router,
        overrides.router, monitoring.router,
        models.router, health.router,
    ):  # fmt: skip
        app.include_router(router)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(LeadscoreError, _unprocessable)
    refuse_bad_input(app)  # 422 for any input however deep or non-finite; 400 too deep
    answer_unavailable(app)  # store busy or away: 503 + Retry-After; bugs: JSON 500
    # innermost first: the metrics count the requests the body limit refuses too
    app.add_middleware(BodyLimit, limit=settings.service.max_body_bytes)
    app.add_middleware(KeyFirst)  # a /v1/ request without a valid key: 401, its body unread
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    drain_on_sigterm(app, settings.service.drain_delay_s)  # see service/drain.py
    around_everything(app, SecurityHeaders)  # every answer, a 500 too
    add_docs(app)

    def openapi() -> dict[str, Any]:
        # the attributes of a lead are the serving model's inputs: show them in /docs
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes,
            )  # fmt: skip
            live = getattr(app.state, "live", None)
            if live is not None and live.slot.ready:
                fields = attribute_model(live.slot.current)
                inputs = fields.model_json_schema(
                    by_alias=True, ref_template="#/components/schemas/{model}"
                )
                schema["components"]["schemas"]["LeadAttributes"] = inputs
                for name in ("LeadIn",):
                    props = schema["components"]["schemas"][name]["properties"]
                    props["attributes"] = {"$ref": "#/components/schemas/LeadAttributes"}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
