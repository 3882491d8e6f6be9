"""Cohorts: leads grouped by the week (or month) they were created, and how each group fared.

A cohort's row says how many leads arrived, how the model scored them (each lead's latest
score), how many have an outcome yet, how many converted (each lead's latest outcome) with a
Wilson 95 % interval, and how long the converted ones took. Young cohorts have few outcomes:
their interval says how little is known yet.

Example
-------
>>> new = pd.DataFrame({"lead_id": ["A", "B", "C"],
...     "created_at": pd.to_datetime(["2026-03-02", "2026-03-04", "2026-03-10"], utc=True)})
>>> scored = pd.DataFrame({"lead_id": ["A", "B", "C"], "score": [0.8, 0.3, 0.82],
...     "score_100": [80, 30, 82], "segment": ["hot", "warm", "hot"],
...     "scored_at": new["created_at"]})
>>> done = pd.DataFrame({"lead_id": ["A", "B"], "converted": [True, False],
...     "occurred_at": pd.to_datetime(["2026-03-05", "2026-03-09"], utc=True)})
>>> cohorts(new, scored, done)[["cohort", "leads", "mean_score", "converted", "conversion"]]
       cohort  leads  mean_score  converted  conversion
0  2026-03-02      2        0.55          1         0.5
1  2026-03-09      1        0.82          0         NaN
>>> print(earlier_cohorts_rate(new, scored, done, "C").text)
Leads scoring 80–89 in earlier weeks converted at 100 % (1 of 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from leadscore.errors import DataError
from leadscore.explain.rates import outcomes as zero_one
from leadscore.explain.rates import wilson_interval
from leadscore.monitor.frames import band_label, require_columns

SEGMENTS = ("hot", "warm", "cold")
#: columns of :func:`cohorts`, in order
COLUMNS = (
    "cohort", "leads", "scored", "mean_score", *SEGMENTS, "with_outcome", "converted",
    "conversion", "conversion_low", "conversion_high", "median_days_to_convert",
)  # fmt: skip
#: the ``attrs`` key of :func:`cohorts` that counts the leads left out for want of a date
WITHOUT_CREATED_AT = "without_created_at"
LEAD_COLUMNS = ("lead_id", "created_at")
SCORE_COLUMNS = ("lead_id", "score", "score_100", "segment", "scored_at")
OUTCOME_COLUMNS = ("lead_id", "converted", "occurred_at")
SECONDS_PER_DAY = 86_400

Freq = Literal["week", "month"]


@dataclass(frozen=True)
class CohortComparison:
    """How leads scored like one lead converted in the cohorts before its own.

    Parameters
    ----------
    band:
        The score band, e.g. ``"70–79"`` (the top band includes 100).
    leads:
        Earlier leads in the band with an outcome.
    converted:
        How many of them converted.
    rate:
        ``converted / leads``.
    interval:
        The Wilson 95 % interval of the rate.
    text:
        The sentence a person reads, e.g. ``"Leads scoring 70–79 in earlier weeks converted
        at 34 % (41 of 120)"``.

    Example
    -------
    >>> CohortComparison("70–79", 4, 1, 0.25, (0.05, 0.7), "…").rate
    0.25
    """

    band: str
    leads: int
    converted: int
    rate: float
    interval: tuple[float, float]
    text: str


# ----------------------------------------------------------------------------- inputs


def _times(frame: pd.DataFrame, name: str, column: str, *, allow_missing: bool) -> pd.Series:
    """A column of timestamps as UTC (naive ones are taken to be UTC already)."""
    values = frame[column]
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    unreadable = parsed.isna() & values.notna()
    if unreadable.any():
        example = values[unreadable].iloc[0]
        raise ValueError(f"{name}.{column} holds values that are no timestamp, e.g. {example!r}")
    if not allow_missing and parsed.isna().any():
        raise ValueError(f"{name}.{column} has {int(parsed.isna().sum())} missing timestamps")
    return parsed


def _latest(frame: pd.DataFrame, time_column: str) -> pd.DataFrame:
    """One row per lead: its latest by ``time_column`` (ties: the later row)."""
    ordered = frame.sort_values(time_column, kind="stable")
    return ordered.drop_duplicates("lead_id", keep="last").set_index("lead_id")


def _cohort_start(created: pd.Series, freq: Freq) -> pd.Series:
    """The first day of each lead's week (Monday) or month, as naive midnight times (the
    table's rows show them as dates: :func:`_cohort_rows`)."""
    days = created.dt.tz_convert(None).dt.normalize()
    if freq == "week":
        return days - pd.to_timedelta(days.dt.day_of_week, unit="D")
    return days - pd.to_timedelta(days.dt.day - 1, unit="D")


def _lead_table(
    leads: pd.DataFrame,
    scores: pd.DataFrame,
    outcomes: pd.DataFrame,
    freq: Freq,
    *,
    before_outcome: bool = True,
) -> tuple[pd.DataFrame, int]:
    """One row per lead with a creation time: its cohort, latest score and latest outcome
    (``converted`` 1/0, NaN without one), and unless ``before_outcome`` is false its last
    ``score_100`` before the outcome; and how many leads had no creation time."""
    if freq not in ("week", "month"):
        raise ValueError(f"freq must be 'week' or 'month', got {freq!r}")
    require_columns(leads, LEAD_COLUMNS, "leads")
    require_columns(scores, SCORE_COLUMNS, "scores")
    require_columns(outcomes, OUTCOME_COLUMNS, "outcomes")

    created = _times(leads, "leads", "created_at", allow_missing=True)
    table = pd.DataFrame(
        {"lead_id": leads["lead_id"].astype(str).to_numpy(), "created_at": created.array}
    )
    without_date = int(table["created_at"].isna().sum())
    # a lead listed twice counts once, from its first creation time
    table = table.dropna(subset=["created_at"]).sort_values("created_at", kind="stable")
    table = table.drop_duplicates("lead_id", keep="first").reset_index(drop=True)
    table["cohort"] = _cohort_start(table["created_at"], freq)

    score_rows = pd.DataFrame(
        {
            "lead_id": scores["lead_id"].astype(str).to_numpy(),
            "score": pd.to_numeric(scores["score"], errors="coerce").to_numpy(dtype=float),
            "score_100": pd.to_numeric(scores["score_100"], errors="coerce").to_numpy(float),
            "segment": scores["segment"].astype(object).to_numpy(),
            "scored_at": _times(scores, "scores", "scored_at", allow_missing=False).array,
        }
    )
    if score_rows["score"].isna().any() or score_rows["score_100"].isna().any():
        raise ValueError("scores.score and scores.score_100 must be numbers (none missing)")
    latest_score = _latest(score_rows, "scored_at")

    try:
        converted = zero_one(outcomes["converted"].to_numpy())
    except DataError as problem:
        raise ValueError(f"outcomes.converted: {problem}") from None
    outcome_rows = pd.DataFrame(
        {
            "lead_id": outcomes["lead_id"].astype(str).to_numpy(),
            "converted": converted.astype(float),
            "occurred_at": _times(outcomes, "outcomes", "occurred_at", allow_missing=False).array,
        }
    )
    latest_outcome = _latest(outcome_rows, "occurred_at")

    ids = table["lead_id"].to_numpy()
    score_of, outcome_of = latest_score.reindex(ids), latest_outcome.reindex(ids)
    for column in ("score", "score_100", "segment"):
        table[column] = score_of[column].to_numpy()
    table["converted"] = outcome_of["converted"].to_numpy(dtype=float)
    occurred = pd.Series(pd.to_datetime(outcome_of["occurred_at"], utc=True).array, table.index)
    delay = (occurred - table["created_at"]).dt.total_seconds() / SECONDS_PER_DAY
    table["days_to_convert"] = delay.where(table["converted"] == 1).to_numpy()
    if not before_outcome:
        return table, without_date
    # each lead's last score strictly before its outcome (a score given after it knew it)
    same = {"lead_id": object}  # merge_asof wants the keys of one type and time unit
    judged = pd.merge_asof(
        latest_outcome.reset_index()
        .astype({**same, "occurred_at": "datetime64[ns, UTC]"})
        .sort_values("occurred_at", kind="stable"),
        score_rows.astype({**same, "scored_at": "datetime64[ns, UTC]"}).sort_values(
            "scored_at", kind="stable"
        ),
        left_on="occurred_at", right_on="scored_at", by="lead_id",
        direction="backward", allow_exact_matches=False,
    ).set_index("lead_id")  # fmt: skip
    table["score_100_before_outcome"] = judged["score_100"].reindex(ids).to_numpy(dtype=float)
    return table, without_date


# ----------------------------------------------------------------------------- cohorts


def cohorts(
    leads: pd.DataFrame,
    scores: pd.DataFrame,
    outcomes: pd.DataFrame,
    freq: Freq = "week",
) -> pd.DataFrame:
    """One row per cohort of leads created in the same week (Monday first) or month.

    Scores and outcomes of leads not in ``leads`` are ignored. A lead listed twice counts
    once; leads without a creation time are left out, and their number is in
    ``result.attrs["without_created_at"]``.

    Parameters
    ----------
    leads:
        ``lead_id, created_at`` (UTC timestamps), one row per lead.
    scores:
        ``lead_id, score, score_100, segment, scored_at``, one row per stored score;
        each lead's latest score counts.
    outcomes:
        ``lead_id, converted`` (True/False), ``occurred_at``; each lead's latest outcome
        counts.
    freq:
        ``"week"`` or ``"month"``.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`COLUMNS`, oldest cohort first: ``cohort`` (the period's first
        day, a date), ``leads``, ``scored`` (leads with a score), ``mean_score`` (0–1),
        ``hot``, ``warm``, ``cold`` (shares of the scored leads), ``with_outcome``,
        ``converted``, ``conversion`` with its Wilson 95 % interval ``conversion_low`` –
        ``conversion_high``, and ``median_days_to_convert`` (creation to the conversion).
        A rate with nothing to count (no score, no outcome) is NaN.

    Example
    -------
    >>> new = pd.DataFrame({"lead_id": ["A", "B"],
    ...     "created_at": pd.to_datetime(["2026-01-30", "2026-02-02"], utc=True)})
    >>> scored = pd.DataFrame({"lead_id": ["A", "B"], "score": [0.9, 0.2],
    ...     "score_100": [90, 20], "segment": ["hot", "cold"], "scored_at": new["created_at"]})
    >>> done = pd.DataFrame({"lead_id": ["A"], "converted": [True],
    ...     "occurred_at": pd.to_datetime(["2026-02-02 12:00"], utc=True)})
    >>> table = cohorts(new, scored, done, freq="month")
    >>> table[["cohort", "hot", "cold", "with_outcome", "median_days_to_convert"]]
           cohort  hot  cold  with_outcome  median_days_to_convert
    0  2026-01-01  1.0   0.0             1                     3.5
    1  2026-02-01  0.0   1.0             0                     NaN
    """
    table, without_date = _lead_table(leads, scores, outcomes, freq, before_outcome=False)
    frame = table.assign(
        **{segment: (table["segment"] == segment).astype(float) for segment in SEGMENTS}
    )
    out = _cohort_rows(frame)
    out.attrs[WITHOUT_CREATED_AT] = without_date
    return out


def lead_cohorts(table: pd.DataFrame, freq: Freq = "week") -> pd.DataFrame:
    """:func:`cohorts` of a table with one row per lead, as the store reads it
    (:func:`leadscore.monitor.data.cohort_leads`): the same rows from a row per lead
    rather than every score and outcome, without sorting them again.

    Parameters
    ----------
    table:
        One row per lead, by creation time: ``created_at`` (UTC), ``score`` (its latest;
        NaN: never scored), ``segment`` (a categorical of :data:`SEGMENTS`; missing: none
        of them), ``converted`` (its latest outcome, 1.0 / 0.0, NaN without one) and
        ``occurred_at``.
    freq:
        ``"week"`` or ``"month"``.

    Example
    -------
    >>> table = pd.DataFrame({
    ...     "created_at": pd.to_datetime(["2026-03-02", "2026-03-04"], utc=True),
    ...     "score": [0.8, np.nan], "segment": pd.Categorical(["hot", None], SEGMENTS),
    ...     "converted": [1.0, np.nan],
    ...     "occurred_at": pd.to_datetime(["2026-03-05", None], utc=True)})
    >>> lead_cohorts(table)[["cohort", "leads", "scored", "hot", "median_days_to_convert"]]
           cohort  leads  scored  hot  median_days_to_convert
    0  2026-03-02      2       1  1.0                     3.0
    """
    if freq not in ("week", "month"):
        raise ValueError(f"freq must be 'week' or 'month', got {freq!r}")
    require_columns(table, ("created_at", "score", "segment", "converted", "occurred_at"), "leads")
    converted = table["converted"].to_numpy(dtype=float)
    delay = (table["occurred_at"] - table["created_at"]).dt.total_seconds() / SECONDS_PER_DAY
    frame = pd.DataFrame(
        {
            "cohort": _cohort_start(table["created_at"], freq),
            "score": table["score"].to_numpy(dtype=float),
            **{s: (table["segment"] == s).to_numpy(dtype=float) for s in SEGMENTS},
            "converted": converted,
            "days_to_convert": delay.where(converted == 1).to_numpy(),
        }
    )
    out = _cohort_rows(frame)
    out.attrs[WITHOUT_CREATED_AT] = 0
    return out


def _cohort_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The cohort table of one row per lead: ``cohort`` (its first day as a naive time),
    ``score``, 0/1 columns of :data:`SEGMENTS`, ``converted`` (1/0, NaN) and
    ``days_to_convert``, in the leads' order (the sums run in it)."""
    grouped = frame.groupby("cohort", sort=True)
    out = pd.DataFrame(
        {
            "leads": grouped.size(),
            "scored": grouped["score"].count(),
            "mean_score": grouped["score"].mean(),
            **{segment: grouped[segment].sum() for segment in SEGMENTS},
            "with_outcome": grouped["converted"].count(),
            "converted": grouped["converted"].sum().astype(np.int64),
            "median_days_to_convert": grouped["days_to_convert"].median(),
        }
    )
    scored = out["scored"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        for segment in SEGMENTS:
            out[segment] = out[segment].to_numpy(dtype=float) / scored
        out["conversion"] = out["converted"] / out["with_outcome"].to_numpy(dtype=float)
    low, high = wilson_interval(out["converted"].to_numpy(), out["with_outcome"].to_numpy())
    out["conversion_low"], out["conversion_high"] = low, high
    out.index = pd.Index([start.date() for start in out.index], dtype=object, name="cohort")
    out = out.reset_index().reindex(columns=list(COLUMNS))
    for column in ("leads", "scored", "with_outcome", "converted"):
        out[column] = out[column].astype(np.int64)
    return out


def _band_low(score_100: np.ndarray | float, width: int) -> np.ndarray:
    """The lower end of each score's ``width``-point band (100 joins the top band)."""
    return (np.minimum(np.asarray(score_100, dtype=float), 99) // width) * width


def earlier_cohorts_rate(
    leads: pd.DataFrame,
    scores: pd.DataFrame,
    outcomes: pd.DataFrame,
    lead_id: str,
    width: int = 10,
    *,
    freq: Freq = "week",
) -> CohortComparison | None:
    """How leads scoring like ``lead_id`` converted in the cohorts before its own.

    The leads created in an earlier week (or month) that have an outcome and whose last
    ``score_100`` before it (a later score already knew the outcome) falls in the same
    ``width``-point band as this lead's latest score.

    Parameters
    ----------
    leads, scores, outcomes:
        As for :func:`cohorts`.
    lead_id:
        The lead to compare.
    width:
        The width of a score band in points (10: 0–9, …, 80–89, 90–100).
    freq:
        ``"week"`` or ``"month"``: what "earlier cohorts" means.

    Returns
    -------
    CohortComparison or None
        ``None`` when the lead is unknown, has no score or no creation time, or no earlier
        lead in its band has an outcome.

    Example
    -------
    >>> new = pd.DataFrame({"lead_id": ["A", "B", "C"],
    ...     "created_at": pd.to_datetime(["2026-03-02", "2026-03-03", "2026-03-10"], utc=True)})
    >>> scored = pd.DataFrame({"lead_id": ["A", "B", "C"], "score": [0.8, 0.85, 0.82],
    ...     "score_100": [80, 85, 82], "segment": "hot", "scored_at": new["created_at"]})
    >>> done = pd.DataFrame({"lead_id": ["A", "B"], "converted": [True, False],
    ...     "occurred_at": pd.to_datetime(["2026-03-05", "2026-03-09"], utc=True)})
    >>> earlier_cohorts_rate(new, scored, done, "C").text
    'Leads scoring 80–89 in earlier weeks converted at 50 % (1 of 2)'
    >>> earlier_cohorts_rate(new, scored, done, "A") is None
    True
    """
    if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= 100:
        raise ValueError(f"width must be a whole number of points from 1 to 100, got {width!r}")
    table, _ = _lead_table(leads, scores, outcomes, freq)
    this = table.loc[table["lead_id"] == str(lead_id)]
    if this.empty or pd.isna(this["score_100"].iloc[0]):
        return None
    low = int(_band_low(this["score_100"].iloc[0], width))
    # the earlier leads at the score they had before their outcome, as this lead is now
    before = table["score_100_before_outcome"].to_numpy(dtype=float)
    same_band = ~np.isnan(before) & (_band_low(np.nan_to_num(before), width) == low)
    earlier = table.loc[
        (table["cohort"] < this["cohort"].iloc[0]) & same_band & table["converted"].notna()
    ]
    if earlier.empty:
        return None
    n, converted = len(earlier), int(earlier["converted"].sum())
    rate = converted / n
    ci_low, ci_high = wilson_interval(converted, n)
    band = band_label(low, width)
    periods = "weeks" if freq == "week" else "months"
    return CohortComparison(
        band=band,
        leads=n,
        converted=converted,
        rate=rate,
        interval=(float(ci_low), float(ci_high)),
        text=(
            f"Leads scoring {band} in earlier {periods} converted at "
            f"{100 * rate:.0f} % ({converted} of {n})"
        ),
    )
