"""``GET /v1/models`` and ``POST /v1/models/reload``: what is served, and swapping it."""

from __future__ import annotations

import gc
import os
from typing import Any

from fastapi import APIRouter, Depends, Request

from leadscore.errors import LeadscoreError
from leadscore.live import ServingModel
from leadscore.service.deps import Live, Serving
from leadscore.service.schemas import FieldOut, ModelsOut, ServingOut, VersionOut
from leadscore.service.security import require

router = APIRouter(prefix="/v1/models", tags=["models"])


def serving_out(model: ServingModel) -> ServingOut:
    meta = model.model.metadata_
    return ServingOut(
        version=model.version,
        reference=model.reference,
        model=str(meta.get("model_label") or meta.get("model") or model.model.model),
        trained_at=meta.get("trained_at"),
        loaded_at=model.loaded_at,
        load_seconds=round(model.load_seconds, 4),
        precompiled=model.precompiled,
        scores_events=model.scores_events,
        threshold=float(model.model.cutoffs_.contact),
        fields=[
            FieldOut(name=c.name, kind=c.kind, categories=list(c.categories))
            for c in model.model.schema_.columns
        ],
        worker=os.getpid(),
    )


@router.get("", response_model=ModelsOut, dependencies=[Depends(require("read"))])
def list_models(request: Request, model: Serving) -> ModelsOut:
    """The model being served and the registry's versions with their aliases."""
    from leadscore.lifecycle.registry import Registry

    versions: list[VersionOut] = []
    problem = None
    try:
        for v in Registry(request.app.state.settings).versions():
            versions.append(
                VersionOut(
                    version=v.version, aliases=sorted(v.aliases), model=v.model, auc=v.auc,
                    profit=v.profit, rows=v.rows, created=v.created.to_pydatetime(),
                )
            )  # fmt: skip
    except (LeadscoreError, OSError) as exc:  # the registry is optional for a model folder
        problem = str(exc)
    return ModelsOut(serving=serving_out(model), registry=versions, registry_error=problem)


@router.post("/reload", response_model=ServingOut, dependencies=[Depends(require("admin"))])
def reload_model(request: Request, scoring: Live) -> ServingOut:
    """Load the model again (e.g. the new champion) and swap it in atomically; requests
    in flight finish with the model they started with. (Every worker also checks its
    model every ``service.model_check_s`` seconds; this answers at once, in this one.)"""
    before = scoring.slot.current
    model = scoring.slot.reload()
    if model is not before:
        after_swap(request.app, model)
    return serving_out(model)


def after_swap(app: Any, model: ServingModel) -> None:
    """What the application updates once another model serves (here or by the watcher)."""
    gc.freeze()  # the new model joins the long-lived objects the collector skips (see app)
    app.state.metrics.serving(model.version)
    app.openapi_schema = None  # the inputs in /docs may have changed
