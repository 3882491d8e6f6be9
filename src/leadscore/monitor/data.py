"""The store's scores, outcomes and leads as the frames the monitoring functions take.

Each frame's times are timezone-aware UTC (``datetime64[ns, UTC]``):

* scores — ``lead_id, score, score_100, segment, contact, scored_at, model_version,
  explored, propensity`` (missing for scores stored before exploration), one row per
  stored score, oldest first;
* outcomes — ``lead_id, converted, occurred_at, contacted`` (missing: not said), each
  lead's latest outcome;
* leads — ``lead_id, created_at``.

Example
-------
>>> scores_frame(store).columns.tolist()[:7]
['lead_id', 'score', 'score_100', 'segment', 'contact', 'scored_at', 'model_version']
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from leadscore.store import Store

SCORE_COLUMNS = [
    "lead_id",
    "score",
    "score_100",
    "segment",
    "contact",
    "scored_at",
    "model_version",
    "explored",
    "propensity",
]
OUTCOME_COLUMNS = ["lead_id", "converted", "occurred_at", "contacted"]
LEAD_COLUMNS = ["lead_id", "created_at"]


def scores_frame(
    store: Store, since: datetime | None = None, until: datetime | None = None
) -> pd.DataFrame:
    """The scores given at or after ``since`` and before ``until`` (either open).

    Parameters
    ----------
    store:
        The score store.
    since, until:
        The window; timezone-aware, or naive UTC.
    """
    frame = pd.DataFrame(store.scores.rows(since, until), columns=SCORE_COLUMNS)
    return frame.astype(
        {
            "lead_id": str, "score": float, "score_100": int, "segment": str,
            "contact": bool, "model_version": str, "explored": bool, "propensity": float,
        }
    ).assign(scored_at=_utc(frame["scored_at"]))  # fmt: skip


def outcomes_frame(store: Store) -> pd.DataFrame:
    """Each lead's latest recorded outcome.

    Example
    -------
    >>> _ = store.outcomes.add("L1", True)
    >>> outcomes_frame(store)[["lead_id", "converted"]].values.tolist()
    [['L1', True]]
    """
    records = store.outcomes.all()
    frame = pd.DataFrame(
        [(o.lead_id, bool(o.converted), o.occurred_at, o.contacted) for o in records],
        columns=OUTCOME_COLUMNS,
    )
    return frame.astype({"lead_id": str, "converted": bool, "contacted": "boolean"}).assign(
        occurred_at=_utc(frame["occurred_at"])
    )


def leads_frame(store: Store) -> pd.DataFrame:
    """Every lead with its creation time."""
    frame = pd.DataFrame(store.leads.created(), columns=LEAD_COLUMNS)
    return frame.astype({"lead_id": str}).assign(created_at=_utc(frame["created_at"]))


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")
