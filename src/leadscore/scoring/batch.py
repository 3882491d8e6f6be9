"""Batch scoring: a saved model and a table of leads in, a ranked score table out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from leadscore.data.sources import TableLike, read_table, write_table
from leadscore.jsonutil import jsonable
from leadscore.modeling.model import LeadModel

if TYPE_CHECKING:
    from leadscore.store import Store


def score(
    model: LeadModel | str | Path,
    data: TableLike,
    *,
    out: str | Path | None = None,
    capacity: int | None = None,
    reasons: int = 0,
    store: Store | None = None,
    model_version: str = "unknown",
) -> pd.DataFrame:
    """Score leads with a model (or a saved model directory), best first.

    Nothing is fitted here: a lead gets the same score alone or in any batch.

    Parameters
    ----------
    model:
        A fitted :class:`LeadModel` or the directory it was saved in.
    data:
        Leads to score (path or DataFrame); extra columns are ignored, missing model
        columns are an error naming them.
    out:
        Write the result here too (CSV or Parquet by extension).
    capacity:
        Contact only this many of the best leads in the batch.
    reasons:
        Add each lead's top ``reasons`` reasons up and down (``reasons_up``,
        ``reasons_down``: "Time on site s: 1,532 (high) → +18; …").
    store:
        Also append every score to the score store's history, with the lead's model
        inputs merged into its attributes and its reasons (``reasons`` each way, 3 when
        0), all in one transaction; webhooks fire as for the API.
    model_version:
        The version recorded with the stored scores.

    Example
    -------
    >>> scores = score("model/", "new_leads.csv", out="scores.csv")  # doctest: +SKIP
    """
    lead_model = model if isinstance(model, LeadModel) else LeadModel.load(model)
    frame = read_table(data)
    result = lead_model.score_leads(frame, capacity=capacity)
    if store is not None:
        store_scores(store, lead_model, frame, result, model_version, reasons or 3)
    if reasons:
        from leadscore.scoring.reasons import with_reasons

        result = with_reasons(lead_model, frame, result, reasons)
    result = result.sort_values("rank", kind="stable").reset_index(drop=True)
    if out is not None:
        write_table(result, out)
    return result


def store_scores(
    store: Store,
    model: LeadModel,
    frame: pd.DataFrame,
    scores: pd.DataFrame,
    model_version: str,
    reasons: int = 3,
) -> int:
    """Append scores (``model.score_leads(frame)``, same row order) to the store's history.

    Returns how many webhook deliveries the scores queued.
    """
    from leadscore.scoring.reasons import reason_records
    from leadscore.scoring.reasons import reasons as lead_reasons
    from leadscore.store import NewScore

    key = model.id_column_ or "lead"
    inputs = model.schema_.conform(frame).astype(object)
    for column, spec in zip(inputs.columns, model.schema_.columns, strict=True):
        if spec.kind == "datetime":
            inputs[column] = [t.isoformat() if pd.notna(t) else None for t in inputs[column]]
    found = lead_reasons(model, frame, reasons) if reasons else [([], [])] * len(frame)
    ids = scores[key].astype(str).tolist()
    attributes = jsonable(inputs.where(inputs.notna(), None).to_dict("records"))
    items = [
        NewScore(
            lead_id=lead_id,
            model_version=model_version,
            score=float(row.score),
            score_100=int(row.score_100),
            segment=str(row.segment),
            contact=bool(row.contact),
            reasons=reason_records(up, down),
        )
        for lead_id, row, (up, down) in zip(ids, scores.itertuples(index=False), found, strict=True)
    ]
    _, deliveries = store.add_scores(items, attributes=dict(zip(ids, attributes, strict=True)))
    return len(deliveries)
