"""Batch scoring: a saved model and a table of leads in, a ranked score table out."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from leadscore.data.sources import TableLike, read_table, write_table
from leadscore.modeling.model import LeadModel


def score(
    model: LeadModel | str | Path,
    data: TableLike,
    *,
    out: str | Path | None = None,
    capacity: int | None = None,
    reasons: int = 0,
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

    Example
    -------
    >>> scores = score("model/", "new_leads.csv", out="scores.csv")  # doctest: +SKIP
    """
    lead_model = model if isinstance(model, LeadModel) else LeadModel.load(model)
    frame = read_table(data)
    result = lead_model.score(frame, capacity=capacity)
    if reasons:
        from leadscore.explain.reasons import with_reasons

        result = with_reasons(lead_model, frame, result, reasons)
    result = result.sort_values("rank", kind="stable").reset_index(drop=True)
    if out is not None:
        write_table(result, out)
    return result
