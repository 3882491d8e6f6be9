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

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pandas as pd

from leadscore.config import Business
from leadscore.jsonutil import jsonable
from leadscore.monitor.cohorts import cohorts
from leadscore.monitor.data import leads_frame, outcomes_frame, scores_frame
from leadscore.monitor.drift import DriftReport, drift_report
from leadscore.monitor.estimate import (
    EstimatedPerformance,
    estimated_over_time,
    expected_performance,
)
from leadscore.monitor.exploration import IpwPerformance, population_performance
from leadscore.monitor.frames import plain
from leadscore.monitor.inputs import MAX_LEADS, window_inputs
from leadscore.monitor.movers import Mover, movers
from leadscore.monitor.performance import RealisedPerformance, bands, match_outcomes, realised
from leadscore.monitor.performance import over_time as realised_over_time
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
    """
    end = _utc(end) if end is not None else datetime.now(UTC)
    start = _utc(start) if start is not None else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise ValueError(f"the period must start before it ends ({start} ≥ {end})")
    notes: list[str] = []
    every = scores_frame(store, until=end)
    window = every.loc[every["scored_at"] >= pd.Timestamp(start)]
    latest = window.drop_duplicates("lead_id", keep="last")
    outcomes = outcomes_frame(store)
    matched = match_outcomes(every, outcomes)
    model = scorer.model if scorer is not None else None
    training = None
    if model is not None:
        training = {**model.metadata_.get("cv_metrics", {}), "rows": model.metadata_.get("rows")}
    judged = None
    if matched.empty:
        notes.append("no outcomes recorded for scored leads yet: outcomes are estimated only")
    else:
        judged = realised(matched, business, training)
    exploration, weighing = population_performance(window, outcomes, business)
    notes += weighing
    estimated = None
    if not latest.empty:
        estimated = expected_performance(
            latest["score"], latest["contact"].to_numpy(dtype=bool), business
        )
    return MonitoringReport(
        start=start,
        end=end,
        scores=len(window),
        leads=int(latest["lead_id"].nunique()),
        movers=movers(store, scorer, start=start, end=end, min_jump=min_jump, limit=movers_limit),
        drift=_drift(store, scorer, latest, end, notes),
        cohorts=cohorts(leads_frame(store), every, outcomes, freq=freq),
        bands=bands(matched) if not matched.empty else pd.DataFrame(),
        realised=judged,
        estimated=estimated,
        over_time=_over_time(window, outcomes, business, freq),
        exploration=exploration,
        notes=notes,
    )


def period_drift(
    store: Store,
    scorer: FastScorer,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[DriftReport | None, list[str]]:
    """The drift section alone: the inputs and scores of the leads scored in ``[start,
    end)`` (default the last 30 days) against the model's training leads; with notes
    saying why there is none (too few leads)."""
    end = _utc(end) if end is not None else datetime.now(UTC)
    start = _utc(start) if start is not None else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise ValueError(f"the period must start before it ends ({start} ≥ {end})")
    latest = scores_frame(store, since=start, until=end).drop_duplicates("lead_id", keep="last")
    notes: list[str] = []
    return _drift(store, scorer, latest, end, notes), notes


def _drift(
    store: Store, scorer: FastScorer | None, latest: pd.DataFrame, end: datetime, notes: list[str]
) -> DriftReport | None:
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
    reference_scores = pd.Series(
        [r.score for r in scorer.score_many(reference.to_dict("records"))], dtype=float
    )
    asked = latest["lead_id"].tolist()
    current = window_inputs(store, model, asked, end)
    if getattr(model, "feature_builder_", None) is not None:
        read = min(len(asked), MAX_LEADS)
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
            return _scores_only(reference, latest, reference_scores)
    return drift_report(
        reference,
        current,
        reference_scores=reference_scores,
        current_scores=latest["score"].reset_index(drop=True),
    )


def _scores_only(
    reference: pd.DataFrame, latest: pd.DataFrame, reference_scores: pd.Series
) -> DriftReport:
    """The score's drift alone, the inputs listed as not compared."""
    report = drift_report(
        reference,
        pd.DataFrame(index=range(len(latest))),
        reference_scores=reference_scores,
        current_scores=latest["score"].reset_index(drop=True),
    )
    reason = "not compared: too few of the period's leads have stored events"
    return replace(report, skipped=dict.fromkeys(report.skipped, reason))


def _over_time(
    window: pd.DataFrame, outcomes: pd.DataFrame, business: Business, freq: Period
) -> pd.DataFrame:
    """Per period: the performance estimated from the scores beside the realised one."""
    if window.empty:
        return pd.DataFrame()
    estimated = estimated_over_time(window, business, freq=freq)
    actual = realised_over_time(window, outcomes, freq=freq)
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
