"""One monitoring report of a store over a period: what the terminal, the API and the
dashboard show, from the same functions, so they give the same numbers.

The sections:

* movers — the biggest moves of the period, with causes and reasons (:mod:`.movers`);
* drift — the period's leads' inputs and scores against the model's training leads, by
  the population stability index (:mod:`.drift`);
* cohorts — leads by the week they were created (:mod:`.cohorts`);
* outcomes — realised conversion by score band, AUC, lift and profit against the
  training estimate (:mod:`.performance`), over every outcome recorded by the period's
  end (each lead at its last score before its outcome); and, for the period's leads, the
  same estimated from the scores alone before outcomes arrive (:mod:`.estimate`), week
  by week beside the realised figures;
* exploration — the period's AUC, conversion and profit on *every* lead, corrected by
  inverse-propensity weighting of the contacted leads' outcomes (explored ones included),
  beside the naive figures over the contacted leads only (:mod:`.exploration`).

Example
-------
>>> from leadscore.config import Business
>>> report = build_report(store, None, Business())
>>> report.scores, report.movers, report.drift is None
(0, [], True)
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pandas as pd

from leadscore.config import Business
from leadscore.jsonutil import jsonable
from leadscore.monitor.cohorts import lead_cohorts
from leadscore.monitor.data import cohort_leads, judged_scores, period_frame, period_scores
from leadscore.monitor.drift import DriftReport, drift_report
from leadscore.monitor.estimate import (
    EstimatedPerformance,
    estimated_by_period,
    expected_performance,
)
from leadscore.monitor.exploration import IpwPerformance, leads_performance
from leadscore.monitor.frames import PERIODS, period_start, plain
from leadscore.monitor.inputs import MAX_LEADS, window_inputs
from leadscore.monitor.movers import Mover, movers
from leadscore.monitor.performance import RealisedPerformance, bands, realised
from leadscore.monitor.performance import over_time_of as realised_over_time_of
from leadscore.scoring.realtime.scorer import FastScorer
from leadscore.store import Store

#: the period a report covers by default
DEFAULT_DAYS = 30
#: fewer current leads than this and drift is not judged (the index would be noise)
MIN_DRIFT_LEADS = 50

Period = Literal["week", "month"]


@dataclass(frozen=True)
class MonitoringReport:
    """The monitoring sections of one period ``[start, end)``; see the module notes."""

    start: datetime
    end: datetime
    scores: int
    leads: int
    movers: list[Mover]
    drift: DriftReport | None
    cohorts: pd.DataFrame
    bands: pd.DataFrame
    realised: RealisedPerformance | None
    estimated: EstimatedPerformance | None
    over_time: pd.DataFrame
    exploration: IpwPerformance | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def alerts(self) -> list[str]:
        """What needs a person: drifted inputs, realised performance below training."""
        out = []
        if self.drift is not None:
            out += [f"drift: {f.feature} (PSI {f.psi:.2f}; {f.moved})" for f in self.drift.alerts]
            score = self.drift.score
            if score is not None and score.status == "drift":
                out.append(f"drift: the score itself (PSI {score.psi:.2f})")
        if self.realised is not None and self.realised.alert and self.realised.recommendation:
            out.append(self.realised.recommendation)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (what ``--json`` prints and the API answers)."""
        return jsonable(
            {
                "start": self.start.isoformat(),
                "end": self.end.isoformat(),
                "scores": self.scores,
                "leads": self.leads,
                "alerts": self.alerts,
                "notes": self.notes,
                "movers": [m.to_dict() for m in self.movers],
                "drift": None if self.drift is None else self.drift.to_dict(),
                "cohorts": _records(self.cohorts),
                "bands": _records(self.bands),
                "realised": None if self.realised is None else self.realised.to_dict(),
                "estimated": None if self.estimated is None else self.estimated.to_dict(),
                "over_time": _records(self.over_time),
                "exploration": None if self.exploration is None else self.exploration.to_dict(),
            }
        )


def build_report(
    store: Store,
    scorer: FastScorer | None,
    business: Business,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    min_jump: int = 10,
    movers_limit: int = 20,
    freq: Period = "week",
    model_version: str | None = None,
) -> MonitoringReport:
    """The monitoring report of ``store`` over ``[start, end)``.

    Parameters
    ----------
    store:
        The score store.
    scorer:
        The serving model's scorer: it explains movers and holds the training leads and
        estimate that drift and outcomes compare with. None: those parts are left out.
    business:
        What a conversion is worth and a contact costs (profit).
    start, end:
        The period; default the last 30 days up to now.
    min_jump, movers_limit:
        The smallest move in points, and how many movers at most.
    freq:
        Cohorts and the over-time table by ``"week"`` or ``"month"``.
    model_version:
        The scorer's version as stored with its scores: the score's drift then compares
        only the scores it gave (after a retraining, the old model's are another model's).
    """
    end = _utc(end) if end is not None else datetime.now(UTC)
    start = _utc(start) if start is not None else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise ValueError(f"the period must start before it ends ({start} ≥ {end})")
    notes: list[str] = []
    model = scorer.model if scorer is not None else None
    training = None
    if model is not None:
        training = {**model.metadata_.get("cv_metrics", {}), "rows": model.metadata_.get("rows")}
    starts = _period_starts(start, end, freq)
    cuts = [s.to_pydatetime() for s in starts[1:]]
    # what each section uses, asked of the database rather than read from every score; on
    # PostgreSQL the reads run side by side (the server works while Python computes)
    with _executor(store) as run:
        judged_read = run.submit(judged_scores, store, end)
        period_read = run.submit(period_scores, store, start, end, cuts, model_version)
        counted = run.submit(store.scores.reads.score_count, start, end)
        inputs = None
        if model is not None:  # the period's leads' inputs, read while the scores are
            inputs = run.submit(_period_inputs, store, model, start, end)
        cohort_table = run.submit(lambda: lead_cohorts(cohort_leads(store, end), freq=freq))
        judged_now = run.submit(_realised, judged_read, business, training)
        found = run.submit(
            movers, store, scorer, start=start, end=end, min_jump=min_jump, limit=movers_limit
        )
        period, judged = period_read.result(), judged_read.result()
        latest = period.latest
        drift = None
        if inputs is not None:
            drift = _drift(scorer, latest, inputs.result, notes, model_version)
        if judged.empty:
            notes.append("no outcomes recorded for scored leads yet: outcomes are estimated only")
        exploration, weighing = (None, [])
        if not latest.empty:
            exploration, weighing = leads_performance(period.before, business)
        notes += weighing
        scores = counted.result()
        over_time = pd.DataFrame()
        if scores:
            over_time = _over_time(_last_scores(period.last, starts), judged, start, business, freq)
        estimated = None
        if not latest.empty:
            contact = latest["contact"].to_numpy(dtype=bool)
            estimated = expected_performance(latest["score"], contact, business)
        return MonitoringReport(
            start=start,
            end=end,
            scores=scores,
            leads=len(latest),
            movers=found.result(),
            drift=drift,
            cohorts=cohort_table.result(),
            bands=bands(judged) if not judged.empty else pd.DataFrame(),
            realised=judged_now.result(),
            estimated=estimated,
            over_time=over_time,
            exploration=exploration,
            notes=notes,
        )


def _realised(
    judged: Future[pd.DataFrame], business: Business, training: dict[str, Any] | None
) -> RealisedPerformance | None:
    """The realised performance of the outcomes judged so far (None without any)."""
    matched = judged.result()
    return None if matched.empty else realised(matched, business, training)


def _executor(store: Store) -> Executor:
    """Threads for the report's reads on PostgreSQL; on SQLite (one writer, a file) one
    after the other, as they come."""
    if store.db.dialect == "postgresql":
        return ThreadPoolExecutor(max_workers=8, thread_name_prefix="report")
    return _InOrder()


class _InOrder(Executor):
    """An executor that runs each task at once, in the caller's thread."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        done: Future[Any] = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except BaseException as error:  # handed to whoever asks for the result
            done.set_exception(error)
        return done


def period_drift(
    store: Store,
    scorer: FastScorer,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    model_version: str | None = None,
) -> tuple[DriftReport | None, list[str]]:
    """The drift section alone: the inputs and scores of the leads scored in ``[start,
    end)`` (default the last 30 days) against the model's training leads; with notes
    saying why there is none (too few leads). With ``model_version`` (the scorer's), the
    score's drift compares only the scores that version gave."""
    end = _utc(end) if end is not None else datetime.now(UTC)
    start = _utc(start) if start is not None else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise ValueError(f"the period must start before it ends ({start} ≥ {end})")
    frame = period_frame(store, start, end)
    own = frame["model_version"].astype(str) == str(model_version)
    latest = pd.DataFrame({"score": frame["score"], "own": own})
    notes: list[str] = []

    def inputs() -> tuple[int, pd.DataFrame]:
        return len(frame), window_inputs(store, scorer.model, frame["lead_id"].tolist(), end)

    return _drift(scorer, latest, inputs, notes, model_version), notes


def _period_inputs(
    store: Store, model: Any, start: datetime, end: datetime
) -> tuple[int, pd.DataFrame]:
    """How many leads were scored in ``[start, end)``, and the inputs as of ``end`` of
    (a sample of) them, which drift compares; none when too few for drift."""
    asked = store.scores.reads.period_leads(start, end)
    if len(asked) < MIN_DRIFT_LEADS:
        return len(asked), pd.DataFrame()
    return len(asked), window_inputs(store, model, asked, end)


def _drift(
    scorer: FastScorer | None,
    latest: pd.DataFrame,
    inputs: Callable[[], tuple[int, pd.DataFrame]],
    notes: list[str],
    version: str | None = None,
) -> DriftReport | None:
    """The drift of the period's leads: ``latest`` their last scores in the period
    (``score``, and ``own``: given by ``version``); ``inputs`` gives how many they are
    and their inputs (:func:`_period_inputs`)."""
    if scorer is None:
        return None
    if len(latest) < MIN_DRIFT_LEADS:
        if not latest.empty:
            notes.append(
                f"drift needs {MIN_DRIFT_LEADS} leads scored in the period; {len(latest)} were"
            )
        return None
    model = scorer.model
    reference = model.background_
    reference_scores: pd.Series | None = _reference_scores(scorer)
    current_scores: pd.Series | None = latest["score"].reset_index(drop=True)
    if version is not None:
        # another model's scores are not this model's: after a retraining the score would
        # read as drifted whatever the leads did
        own = latest["own"].to_numpy(dtype=bool)
        if not own.all():
            kept = int(own.sum())
            compared = f"its {kept:,}" if kept >= MIN_DRIFT_LEADS else "none of them (too few)"
            notes.append(
                f"{int((~own).sum()):,} of the period's leads were last scored by another model "
                f"version than {version}: the score's drift compares {compared}"
            )
            current_scores = latest.loc[own, "score"].reset_index(drop=True)
            if kept < MIN_DRIFT_LEADS:
                reference_scores = current_scores = None
    asked, current = inputs()
    if getattr(model, "feature_builder_", None) is not None:
        read = min(asked, MAX_LEADS)
        if without := read - len(current):
            notes.append(
                f"{without:,} of the {read:,} leads read have no stored events (scored in "
                "batch from files): their inputs are left out of the feature drift, their "
                "scores are in the score's"
            )
        if len(current) < MIN_DRIFT_LEADS:
            notes.append(
                f"feature drift needs {MIN_DRIFT_LEADS} leads with stored events in the "
                f"period; {len(current)} had"
            )
            if current_scores is None:
                return None
            return _scores_only(reference, current_scores, reference_scores)
    return drift_report(
        reference, current, reference_scores=reference_scores, current_scores=current_scores
    )


def _scores_only(
    reference: pd.DataFrame, current_scores: pd.Series, reference_scores: pd.Series | None
) -> DriftReport:
    """The score's drift alone, the inputs listed as not compared."""
    report = drift_report(
        reference,
        pd.DataFrame(index=range(len(current_scores))),
        reference_scores=reference_scores,
        current_scores=current_scores,
    )
    reason = "not compared: too few of the period's leads have stored events"
    return replace(report, skipped=dict.fromkeys(report.skipped, reason))


def _reference_scores(scorer: FastScorer) -> pd.Series:
    """The scores of the model's training leads: scored once per model (they never
    change for it), then kept beside it."""
    model = scorer.model
    cached = _REFERENCE_SCORES.get(model)
    if cached is not None and cached[0] is model.background_:
        return cached[1].copy()
    records = model.background_.to_dict("records")
    scores = pd.Series([r.score for r in scorer.score_many(records)], dtype=float)
    _REFERENCE_SCORES[model] = (model.background_, scores)
    return scores.copy()


#: each model's training leads (the frame scored) and their scores
_REFERENCE_SCORES: weakref.WeakKeyDictionary[Any, tuple[pd.DataFrame, pd.Series]] = (
    weakref.WeakKeyDictionary()
)


def _period_starts(start: datetime, end: datetime, freq: Period) -> list[pd.Timestamp]:
    """Where the weeks or months of ``[start, end)`` begin (UTC), the first at ``start``'s."""
    first = pd.Timestamp(period_start(pd.Series([pd.Timestamp(start)]), freq).iloc[0])
    naive = pd.period_range(first.tz_localize(None), pd.Timestamp(end).tz_localize(None),
                            freq=PERIODS[freq])  # fmt: skip
    starts = [first, *(p.start_time.tz_localize("UTC") for p in naive[1:])]
    return [s for s in starts if s < pd.Timestamp(end)]


def _last_scores(last: pd.DataFrame, starts: list[pd.Timestamp]) -> pd.DataFrame:
    """Each lead's last score in each period (:attr:`PeriodScores.last`) with its period
    as the period's start: ``period``, ``score``, ``contact``, in the order of the scores."""
    periods = pd.DatetimeIndex(starts).as_unit("ns")[last["period"].to_numpy(dtype=int)]
    return last.assign(period=periods)


#: what the realised figures over time read of the judged outcomes
_JUDGED_OVER_TIME = ["converted", "score", "scored_at"]


def _over_time(
    last: pd.DataFrame, judged: pd.DataFrame, start: datetime, business: Business, freq: Period
) -> pd.DataFrame:
    """Per period: the performance estimated from the scores (each lead's last score in
    the period: :func:`_last_scores`) beside the realised one (the outcomes judged by
    the period's scores: the last score before each outcome, if it lies in the period)."""
    estimated = estimated_by_period(last, business)
    in_period = judged.loc[judged["scored_at"] >= pd.Timestamp(start), _JUDGED_OVER_TIME]
    actual = realised_over_time_of(last.groupby("period").size(), in_period, freq)
    return estimated.merge(
        actual[["period", "n", "converted", "rate", "auc"]].rename(
            columns={"n": "with_outcome", "rate": "realised_rate", "auc": "realised_auc"}
        ),
        on="period",
        how="left",
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready records: times and dates as ISO text, gaps as None."""
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
