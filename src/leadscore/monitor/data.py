"""The store's scores, outcomes and leads as the frames the monitoring functions take.

Each frame's times are timezone-aware UTC (``datetime64[ns, UTC]``):

* scores — ``lead_id, score, score_100, segment, contact, scored_at, model_version,
  explored, propensity`` (missing for scores stored before exploration), one row per
  stored score, oldest first;
* outcomes — ``lead_id, converted, occurred_at, contacted`` (missing: not said), each
  lead's latest outcome;
* leads — ``lead_id, created_at``.

The report reads less (:mod:`leadscore.store.score_reads`): :func:`judged_frame` (each
outcome with the score before it), :func:`period_frame` (each lead's last score of a
period) and :func:`cohort_frames` (each lead's last score and outcome), rather than every
score.

Example
-------
>>> scores_frame(store).columns.tolist()[:7]
['lead_id', 'score', 'score_100', 'segment', 'contact', 'scored_at', 'model_version']
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from leadscore.explain.rates import outcomes as outcome_values
from leadscore.store import Store
from leadscore.store.score_reads import JUDGED_FIELDS, LEAD_FIELDS, PERIOD_FIELDS

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


def judged_frame(store: Store, end: datetime) -> pd.DataFrame:
    """Each lead's latest outcome beside its last score before it, given before ``end``:
    what :func:`leadscore.monitor.performance.match_outcomes` makes of the scores before
    ``end`` and the outcomes (its columns first, the same rows in the same order), plus
    ``contacted, explored, propensity, score_id``.

    Example
    -------
    >>> from datetime import UTC, datetime
    >>> judged_frame(store, datetime.now(UTC)).columns.tolist()[:4]
    ['lead_id', 'converted', 'occurred_at', 'score']
    """
    frame = pd.DataFrame(store.scores.reads.judged(end), columns=list(JUDGED_FIELDS))
    converted = outcome_values(frame["converted"].to_numpy()) if len(frame) else []
    typed = frame.astype(
        {"lead_id": str, "score": float, "score_100": "int64", "segment": str,
         "contact": bool, "model_version": str, "explored": bool, "propensity": float,
         "contacted": "boolean", "score_id": "int64"}
    ).assign(converted=np.asarray(converted, dtype=np.int64))  # fmt: skip
    typed = typed.assign(
        occurred_at=_micros(frame["occurred_at"]), scored_at=_micros(frame["scored_at"])
    )
    first = ["lead_id", "converted", "occurred_at", *SCORE_COLUMNS[1:7]]
    return typed[[*first, "contacted", "explored", "propensity", "score_id"]]


def period_frame(store: Store, start: datetime, end: datetime) -> pd.DataFrame:
    """Each lead scored in ``[start, end)`` at its last score there (the columns of
    :func:`scores_frame` and ``score_id``), with its latest outcome (``converted`` 1.0 /
    0.0, NaN without one; ``occurred_at``; ``contacted``), in the order of the scores.

    Example
    -------
    >>> from datetime import UTC, datetime, timedelta
    >>> now = datetime.now(UTC)
    >>> period_frame(store, now - timedelta(days=1), now).columns.tolist()[-3:]
    ['converted', 'occurred_at', 'contacted']
    """
    frame = pd.DataFrame(store.scores.reads.period_latest(start, end), columns=list(PERIOD_FIELDS))
    typed = frame.astype(
        {"lead_id": str, "score": float, "score_100": int, "segment": str, "contact": bool,
         "model_version": str, "explored": bool, "propensity": float, "score_id": "int64",
         "converted": float, "contacted": "boolean"}
    )  # fmt: skip
    return typed.assign(
        scored_at=_micros(frame["scored_at"]), occurred_at=_micros(frame["occurred_at"])
    )


def cohort_frames(store: Store, end: datetime) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """What :func:`leadscore.monitor.cohorts.cohorts` reads, one row per lead: every lead
    (``lead_id, created_at``), its last score before ``end`` and its latest outcome —
    the same cohorts as from every score and outcome, from a row per lead.

    Example
    -------
    >>> from datetime import UTC, datetime
    >>> [len(f) for f in cohort_frames(store, datetime.now(UTC))]
    [0, 0, 0]
    """
    frame = pd.DataFrame(store.scores.reads.leads(end), columns=list(LEAD_FIELDS))
    frame = frame.assign(
        lead_id=frame["lead_id"].astype(str),
        created_at=_micros(frame["created_at"]),
        scored_at=_micros(frame["scored_at"]),
        occurred_at=_micros(frame["occurred_at"]),
    )
    scored = frame.loc[frame["score"].notna()]
    scores = scored[["lead_id", "score", "score_100", "segment", "scored_at"]].astype(
        {"score": float, "score_100": "int64", "segment": str}
    )
    done = frame.loc[frame["converted"].notna(), ["lead_id", "converted", "occurred_at"]]
    return frame[["lead_id", "created_at"]], scores, done.astype({"converted": bool})


def _micros(values: pd.Series) -> pd.Series:
    """Microseconds since the epoch (None: missing) as UTC times."""
    times = pd.to_datetime(values.astype("Int64"), unit="us", utc=True)
    return times.astype("datetime64[ns, UTC]")


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")
