"""What the routes take from the application: the live scorer, settings, checked inputs."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from pydantic import BaseModel

from leadscore.config import ServiceSettings
from leadscore.live import LiveScoring, ServingModel
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


def attribute_model(model: ServingModel) -> type[BaseModel]:
    """The request model of this serving model's attributes, built once per loaded model
    (the application builds it before a reloaded model is swapped in: see ``app``)."""
    built: type[BaseModel] | None = model.extras.get("inputs")
    if built is None:
        built = model.extras["inputs"] = attributes_model(model.model.schema_)
    return built


def too_large(what: str, count: int, limit: int) -> HTTPException:
    return HTTPException(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,  # (Starlette's name for it is deprecated)
        f"{count:,} {what} in one request; at most {limit:,} (split the batch)",
    )


#: route parameters (FastAPI's Annotated style)
Live = Annotated[LiveScoring, Depends(live)]
Serving = Annotated[ServingModel, Depends(serving)]
Service = Annotated[ServiceSettings, Depends(service_settings)]
