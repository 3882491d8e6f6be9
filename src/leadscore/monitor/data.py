"""The store's scores, outcomes and leads as the frames the monitoring functions take.

Each frame's times are timezone-aware UTC (``datetime64[ns, UTC]``):

* scores — ``lead_id, score, score_100, segment, contact, scored_at, model_version,
  explored, propensity`` (missing for scores stored before exploration), one row per
  stored score, oldest first;
* outcomes — ``lead_id, converted, occurred_at, contacted`` (missing: not said), each
  lead's latest outcome;
* leads — ``lead_id, created_at``.

Other faces read less (:mod:`leadscore.store.score_reads`): :func:`judged_frame` (each
outcome with the score before it), :func:`period_frame` (each lead's last score of a
period) and :func:`cohort_frames` (each lead's last score and outcome), rather than every
score. The report reads only the columns its figures use, as NumPy columns:
:func:`judged_scores`, :func:`period_scores` (one pass over the period's scores for its
leads' latest scores, their scores before their outcomes and their last score of each
week or month) and :func:`cohort_leads`.

Example
-------
>>> scores_frame(store).columns.tolist()[:7]
['lead_id', 'score', 'score_100', 'segment', 'contact', 'scored_at', 'model_version']
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from leadscore.explain.rates import outcomes as outcome_values
from leadscore.store import Store
from leadscore.store.packing import MISSING_INT
from leadscore.store.score_reads import JUDGED_FIELDS, LEAD_FIELDS, PERIOD_FIELDS, SEGMENT_CODES

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


def judged_scores(store: Store, end: datetime) -> pd.DataFrame:
    """The columns of :func:`judged_frame` that the figures on outcomes read (realised
    AUC, lift and profit, bands, the realised figures over time): ``converted`` (0/1),
    ``score``, ``score_100``, ``contact``, ``scored_at``; the same rows in the same order.

    Example
    -------
    >>> from datetime import UTC, datetime
    >>> judged_scores(store, datetime.now(UTC)).columns.tolist()
    ['converted', 'score', 'score_100', 'contact', 'scored_at']
    """
    found = store.scores.reads.judged_columns(end)
    return pd.DataFrame(
        {
            "converted": found["converted"].astype(np.int64),
            "score": found["score"],
            "score_100": found["score_100"],
            "contact": found["contact"].astype(bool),
            "scored_at": _packed_times(found["scored_at"]),
        }
    )


@dataclass(frozen=True)
class PeriodScores:
    """A period's leads as the report reads them (:func:`period_scores`), each frame in
    the order of the scores.

    Attributes
    ----------
    latest:
        Each lead scored in the period at its last score there: ``score``, ``contact``,
        ``own`` (given by the model version asked for; all true without one).
    before:
        Each lead of the period at its last score there strictly before its latest
        outcome (leads whose outcome came before every score of theirs in the period are
        left out): ``score, contact, explored, propensity`` and the outcome's
        ``converted`` (1.0 / 0.0, NaN without one) and ``contacted`` (missing: not said).
    last:
        Each lead's last score in each period (week or month) of the window: ``period``
        (its index: 0 the first), ``score``, ``contact``.
    """

    latest: pd.DataFrame
    before: pd.DataFrame
    last: pd.DataFrame


def period_scores(
    store: Store,
    start: datetime,
    end: datetime,
    cuts: list[datetime],
    version: str | None = None,
) -> PeriodScores:
    """What the report reads of the scores of ``[start, end)``, in one pass over them
    (:meth:`~leadscore.store.score_reads.MonitoringReads.period_scan`).

    Parameters
    ----------
    store:
        The score store.
    start, end:
        The period.
    cuts:
        Where its weeks or months begin, ascending, inside it.
    version:
        The served model's version: ``latest.own`` says which scores it gave.

    Example
    -------
    >>> from datetime import UTC, datetime, timedelta
    >>> now = datetime.now(UTC)
    >>> len(period_scores(store, now - timedelta(days=7), now, []).latest)
    0
    """
    found = store.scores.reads.period_scan(start, end, cuts, version)
    # which row is which, from the times (the database kept the rows that are any of
    # them): ``last`` the lead's last score of its period, ``latest`` its last of the
    # window, ``before`` its last there strictly before its latest outcome (none: latest)
    at, following, outcome = found["scored_at"], found["next_at"], found["occurred_at"]
    edges = np.array([_micros_of(cut) for cut in cuts], dtype=np.int64)
    period = np.searchsorted(edges, at, side="right")
    latest, no_outcome = following == MISSING_INT, outcome == MISSING_INT
    last = latest | (np.searchsorted(edges, following, side="right") != period)
    before = (no_outcome | (at < outcome)) & (latest | (~no_outcome & (following >= outcome)))
    score, contact = found["score"], found["contact"].astype(bool)
    converted = np.where(found["converted"] < 0, np.nan, found["converted"].astype(float))
    told = found["contacted"][before]
    contacted = pd.arrays.BooleanArray(told == 1, mask=told < 0)
    return PeriodScores(
        latest=pd.DataFrame(
            {"score": score[latest], "contact": contact[latest], "own": found["own"][latest] > 0}
        ),
        before=pd.DataFrame(
            {
                "score": score[before],
                "contact": contact[before],
                "explored": found["explored"][before] > 0,
                "propensity": found["propensity"][before],
                "converted": converted[before],
                "contacted": contacted,
            }
        ),
        last=pd.DataFrame(
            {
                "period": period[last].astype(np.int64),
                "score": score[last],
                "contact": contact[last],
            }
        ),
    )


def cohort_leads(store: Store, end: datetime) -> pd.DataFrame:
    """Every lead as :func:`leadscore.monitor.cohorts.lead_cohorts` reads it, by creation
    time: ``created_at``, its last score before ``end`` (``score``, NaN without one;
    ``segment``) and its latest outcome (``converted`` 1.0 / 0.0, NaN without one;
    ``occurred_at``).

    Example
    -------
    >>> from datetime import UTC, datetime
    >>> cohort_leads(store, datetime.now(UTC)).columns.tolist()
    ['created_at', 'score', 'segment', 'converted', 'occurred_at']
    """
    found = store.scores.reads.cohort_columns(end)
    codes = found["segment"].astype(np.int64)
    codes[codes >= len(SEGMENT_CODES)] = -1  # another segment: none of the shares
    converted = found["converted"]
    return pd.DataFrame(
        {
            "created_at": _packed_times(found["created_at"]),
            "score": found["score"],
            "segment": pd.Categorical.from_codes(codes, categories=list(SEGMENT_CODES)),
            "converted": np.where(converted < 0, np.nan, converted.astype(float)),
            "occurred_at": _packed_times(found["occurred_at"]),
        }
    )


def _micros(values: pd.Series) -> pd.Series:
    """Microseconds since the epoch (None: missing) as UTC times."""
    times = pd.to_datetime(values.astype("Int64"), unit="us", utc=True)
    return times.astype("datetime64[ns, UTC]")


def _micros_of(when: datetime) -> int:
    """A time as whole microseconds since the epoch (naive: UTC)."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return (aware - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _packed_times(micros: np.ndarray) -> pd.Series:
    """Packed times (microseconds since the epoch; missing: the smallest int64, which is
    NumPy's NaT) as UTC times."""
    times = pd.Series(micros.view("datetime64[us]")).dt.tz_localize("UTC")
    return times.astype("datetime64[ns, UTC]")


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")
