"""Typed bodies of ``/v1/monitoring/…`` (see :mod:`leadscore.monitor.report`): each answer
mirrors the ``to_dict()`` of the monitoring object it answers with (the outcome figures are
those objects' own dataclasses, so their fields are written once); :class:`NotifyIn` is the
request of ``POST /v1/monitoring/movers/notify``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from leadscore.monitor.estimate import EstimatedPerformance
from leadscore.monitor.exploration import IpwPerformance
from leadscore.monitor.performance import RealisedPerformance

Cause = Literal["behaviour", "attributes", "model"]


class FieldMoveOut(BaseModel):
    field: str
    before: Any = Field(description="The input's value at the earlier score.")
    after: Any = Field(description="The input's value at the later score.")
    points: float = Field(description="Change of the field's points (0–100 scale).")
    text: str = Field(examples=["Time on site (s): 5 → 3,000: +21"])


class MoverOut(BaseModel):
    lead_id: str
    before: int
    after: int
    change: int
    segment_before: str
    segment_after: str
    scored_before: str
    scored_after: str
    model_before: str
    model_after: str
    causes: list[Cause] = Field(
        description="behaviour (events between the scores), attributes (CRM fields "
        "changed), model (a new model version)."
    )
    reasons: list[FieldMoveOut]


class MoversOut(BaseModel):
    start: str
    end: str
    min_jump: int
    movers: list[MoverOut]


class FeatureDriftOut(BaseModel):
    feature: str
    kind: Literal["numeric", "categorical"]
    psi: float | None = Field(description="Population stability index (0.1 watch, 0.25 drift).")
    status: Literal["stable", "watch", "drift"]
    moved: str = Field(description="The bin whose share moved most.")


class DriftOut(BaseModel):
    features: list[FeatureDriftOut]
    score: FeatureDriftOut | None
    skipped: dict[str, str]
    reference_rows: int
    current_rows: int
    watch: float
    alert: float
    alerts: list[str] = Field(description="Features that drifted, worst first.")


class ReportOut(BaseModel):
    """The monitoring report of a period: the same numbers as ``leadscore monitor report``."""

    start: str
    end: str
    scores: int = Field(description="Scores given in the period.")
    leads: int = Field(description="Leads scored in the period.")
    alerts: list[str]
    notes: list[str]
    movers: list[MoverOut]
    drift: dict[str, Any] | None = Field(description="As GET /v1/monitoring/drift.")
    cohorts: list[dict[str, Any]] = Field(
        description="By week (or month) created: leads, mean score, segment shares, "
        "realised conversion with its 95 % interval, median days to convert."
    )
    bands: list[dict[str, Any]] = Field(
        description="Realised conversion and calibration by 10-point score band."
    )
    realised: RealisedPerformance | None = Field(
        description="Outcomes so far against predictions, beside the training estimate."
    )
    estimated: EstimatedPerformance | None = Field(
        description="What the scores alone expect (calibrated probabilities), before "
        "outcomes arrive."
    )
    over_time: list[dict[str, Any]] = Field(
        description="Per period: expected conversion, AUC and profit from the scores, "
        "beside the realised ones once outcomes arrived."
    )
    exploration: IpwPerformance | None = Field(
        None,
        description="The model on every lead of the period: the contacted leads' outcomes "
        "weighted by 1 / propensity (corrected, explored leads included) beside the plain "
        "figures over the contacted leads only (naive, biased toward the policy).",
    )


class NotifyIn(BaseModel):
    """``POST /v1/monitoring/movers/notify``: the period and the smallest move to alert."""

    model_config = ConfigDict(extra="forbid")

    since: datetime | None = Field(
        default=None, description="Start of the period (default: a day before its end)."
    )
    until: datetime | None = Field(default=None, description="End of the period (default: now).")
    min_move: int = Field(
        default=30, ge=1, le=100, description="Smallest move that alerts, up or down (points)."
    )
    limit: int = Field(default=500, ge=1, le=500, description="How many movers at most.")


class MovedAlertOut(BaseModel):
    delivery_id: int
    webhook_id: int
    lead_id: str
    change: int = Field(description="The move, in points (negative: a fall).")


class NotifyOut(BaseModel):
    """The ``lead.moved`` alerts queued: the same counts as ``leadscore monitor notify``."""

    start: str
    end: str
    min_move: int
    movers: int = Field(description="Leads that moved at least min_move points.")
    webhooks: int = Field(description="Active webhooks subscribed to moved.")
    queued: int = Field(description="Deliveries queued by this call.")
    already_queued: int = Field(description="Alerts queued for the same move by an earlier run.")
    excluded: int = Field(description="Movers excluded by a sales override: no alert.")
    limited: bool = Field(description="Stopped at the limit: there may be more movers.")
    alerts: list[MovedAlertOut]
