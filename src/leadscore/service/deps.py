"""What the routes take from the application: the live scorer, settings, checked inputs."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from pydantic import BaseModel
from starlette.datastructures import State

from leadscore.config import ServiceSettings
from leadscore.scoring.live import LiveScoring, ServingModel
from leadscore.service.inputs import attributes_model

# The dependencies are async although they do no I/O: FastAPI runs a sync dependency in
# the thread pool, a round trip that costs more than the attribute lookups themselves.


async def live(request: Request) -> LiveScoring:
    return request.app.state.live  # type: ignore[no-any-return]


async def service_settings(request: Request) -> ServiceSettings:
    return request.app.state.settings.service  # type: ignore[no-any-return]


async def serving(request: Request) -> ServingModel:
    slot = request.app.state.live.slot
    if not slot.ready:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no model loaded yet")
    return slot.current  # type: ignore[no-any-return]


def attribute_model(state: State, model: ServingModel) -> type[BaseModel]:
    """The attribute model of this serving model (built once per loaded model and kept
    in the application's ``state``)."""
    cached: tuple[Any, type[BaseModel]] | None = getattr(state, "inputs", None)
    if cached is None or cached[0] is not model:
        cached = (model, attributes_model(model.model.schema_))
        state.inputs = cached
    return cached[1]


def inputs_for(request: Request, model: ServingModel) -> type[BaseModel]:
    """:func:`attribute_model` of the request's application."""
    return attribute_model(request.app.state, model)


def too_large(what: str, count: int, limit: int) -> HTTPException:
    return HTTPException(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,  # (Starlette's name for it is deprecated)
        f"{count:,} {what} in one request; at most {limit:,} (split the batch)",
    )


#: route parameters (FastAPI's Annotated style)
Live = Annotated[LiveScoring, Depends(live)]
Serving = Annotated[ServingModel, Depends(serving)]
Service = Annotated[ServiceSettings, Depends(service_settings)]
