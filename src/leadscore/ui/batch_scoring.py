"""Scoring a batch of leads into the store from the dashboard: scores, reasons and the
leads' attributes, in chunks of one transaction each, under the model version the API
records."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from leadscore.config import Settings
from leadscore.jsonutil import jsonable
from leadscore.modeling.model import LeadModel
from leadscore.store import Store

#: leads scored (and explained) per store transaction
SCORE_CHUNK = 500


def model_version_text(reference: str, model: LeadModel, settings: Settings) -> str:
    """The model version recorded with stored scores (as the API records it)."""
    from leadscore.lifecycle.loader import model_version

    return model_version(reference, model, settings)


def score_into_store(
    model: LeadModel,
    frame: pd.DataFrame,
    store: Store,
    version: str,
    settings: Settings,
    *,
    progress: Callable[[int, int], None] | None = None,
    drop: list[str] | None = None,
    keep_attributes: bool = True,
) -> int:
    """Score leads, explain them and append the scores to the store, in chunks (each one
    transaction). The whole batch is scored first, so a capacity ("call the N best")
    applies to the batch as a whole. With ``keep_attributes`` every column of a lead (but
    ``drop``) is stored as its attributes, so the lead page shows what the CRM sent.
    Returns how many leads were scored."""
    from leadscore.live.batch import store_scores
    from leadscore.scoring.batch import explored
    from leadscore.scoring.exploration import ExplorationPolicy

    frame = frame.reset_index(drop=True)
    scores = explored(
        model,
        model.score_leads(frame, capacity=settings.business.capacity),
        ExplorationPolicy.from_settings(settings),
    )
    key = model.id_column_ or "lead"
    total = len(frame)
    for start in range(0, total, SCORE_CHUNK):
        part = slice(start, min(start + SCORE_CHUNK, total))
        rows, scored = frame.iloc[part], scores.iloc[part]
        if keep_attributes:
            raw = rows.drop(columns=[c for c in [*(drop or []), key] if c in rows.columns])
            raw = raw.astype(object).where(raw.notna(), None)
            ids = scored[key].astype(str).tolist()
            store.leads.upsert_many(dict(zip(ids, jsonable(raw.to_dict("records")), strict=True)))
        store_scores(store, model, rows, scored, version, reasons=3)
        if progress:
            progress(part.stop, total)
    return total
