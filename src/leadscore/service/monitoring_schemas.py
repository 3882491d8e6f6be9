"""Typed response bodies of ``/v1/monitoring/…`` (see :mod:`leadscore.monitor.report`):
each mirrors the ``to_dict()`` of the monitoring object it answers with (the outcome
figures are those objects' own dataclasses, so their fields are written once)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from leadscore.monitor.estimate import EstimatedPerformance
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
