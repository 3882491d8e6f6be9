"""Batch scoring: a saved model and a table of leads in, a ranked score table out.

Appending a batch's scores to the score store (with the webhooks they fire) is the live
flow's: :func:`leadscore.live.batch.score`. A CSV or Parquet file too large to hold is
scored batch by batch, through the compiled model, by
:func:`leadscore.scoring.streaming.score_file` (what ``leadscore score`` does with files):
the same table, best first.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from leadscore.data.sources import TableLike, read_table
from leadscore.data.table_files import write_table
from leadscore.modeling.model import LeadModel
from leadscore.scoring.exploration import ExplorationPolicy


def score(
    model: LeadModel | str | Path,
    data: TableLike,
    *,
    out: str | Path | None = None,
    capacity: int | None = None,
    reasons: int = 0,
    exploration: ExplorationPolicy | None = None,
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
    exploration:
        Contact a random share of the leads below the cut-off too
        (:mod:`leadscore.scoring.exploration`): adds ``explored`` and ``propensity``, and
        ``contact`` is true for the explored leads.

    Example
    -------
    >>> _ = model.save("model/")
    >>> leads.drop(columns=["sales_status", "converted"]).to_csv("new_leads.csv", index=False)
    >>> scores = score("model/", "new_leads.csv", out="scores.csv")
    >>> scores.columns.tolist()
    ['lead_id', 'score', 'score_100', 'segment', 'rank', 'contact']
    >>> pd.read_csv("scores.csv")["lead_id"].tolist() == scores["lead_id"].tolist()
    True
    """
    lead_model = model if isinstance(model, LeadModel) else LeadModel.load(model)
    frame = read_table(data)
    result = explored(lead_model, lead_model.score_leads(frame, capacity=capacity), exploration)
    return ranked(lead_model, frame, result, reasons=reasons, out=out)


def explored(
    model: LeadModel, scores: pd.DataFrame, exploration: ExplorationPolicy | None
) -> pd.DataFrame:
    """``model.score_leads``'s scores with the exploration policy applied (unchanged
    without one)."""
    if exploration is None:
        return scores
    return exploration.apply(scores, model.id_column_ or "lead")


def ranked(
    model: LeadModel,
    frame: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    reasons: int = 0,
    out: str | Path | None = None,
) -> pd.DataFrame:
    """The scores of ``frame`` (``model.score_leads(frame)``, same row order) as
    :func:`score` returns them: with ``reasons`` each way when asked, best first, and
    written to ``out`` when given."""
    if reasons:
        from leadscore.scoring.reasons import with_reasons

        scores = with_reasons(model, frame, scores, reasons)
    scores = scores.sort_values("rank", kind="stable").reset_index(drop=True)
    if out is not None:
        write_table(scores, out)
    return scores
