"""Typed request and response bodies of the API.

A lead's ``attributes`` are checked against the serving model's input schema by
:mod:`leadscore.service.inputs` (the model can change on reload, the routes cannot), so
here they are a mapping; the OpenAPI document shows the serving model's fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

LeadId = Annotated[
    str,
    Field(
        min_length=1, max_length=200, pattern=r"^[^\s/?#][^/?#]*$",
        description="Your id of the lead (CRM id, Mixpanel distinct_id …).",
        examples=["L000123"],
    ),
]  # fmt: skip
Segment = Literal["hot", "warm", "cold"]
Trend = Literal["improving", "steady", "declining", "new"]
Scalar = str | int | float | bool | None


class Strict(BaseModel):
    """Unknown fields are an error (422 naming them), not silently ignored."""

    model_config = ConfigDict(extra="forbid")


# ----------------------------------------------------------------------------- scoring


class LeadIn(Strict):
    lead_id: LeadId
    attributes: dict[str, Any] = Field(
        description="The model's input fields (see the schema of the serving model). Every "
        "field must be present; null means unknown."
    )


class BatchIn(Strict):
    leads: list[LeadIn] = Field(min_length=1)


class ReasonOut(BaseModel):
    field: str
    value: str
    points: float = Field(description="Effect on the 0–100 score.")
    direction: Literal["up", "down"]
    text: str = Field(examples=["Time on site: 1,532 s (high) → +18"])


class ScoreOut(BaseModel):
    lead_id: str
    score: float = Field(ge=0, le=1, description="Calibrated probability of converting.")
    score_100: int = Field(ge=0, le=100)
    segment: Segment
    contact: bool = Field(description="Whether a contact pays off at the business values.")
    reasons: list[ReasonOut]
    model_version: str
    scored_at: datetime
    warnings: list[str] = Field(default_factory=list)
    notifications: int = Field(0, description="Webhook deliveries this score queued.")


class BatchOut(BaseModel):
    scores: list[ScoreOut]


# ----------------------------------------------------------------------------- events


class EventIn(Strict):
    """One behaviour event; the fields of leadscore's event schema."""

    event_id: str | None = Field(None, max_length=200, description="For de-duplication.")
    time: AwareDatetime = Field(
        description="ISO 8601 with a time zone, or epoch seconds / milliseconds."
    )
    name: str = Field(min_length=1, max_length=200, examples=["page_view"])
    url: str | None = Field(None, max_length=4000)
    page_title: str | None = Field(None, max_length=1000)
    referrer: str | None = Field(None, max_length=4000)
    utm_source: str | None = Field(None, max_length=200)
    utm_medium: str | None = Field(None, max_length=200)
    utm_campaign: str | None = Field(None, max_length=200)
    user_agent: str | None = Field(None, max_length=1000)
    ip: str | None = Field(None, max_length=64)
    tz_offset_minutes: int | None = Field(None, ge=-840, le=840)
    timezone: str | None = Field(None, max_length=64)
    device_type: str | None = Field(None, max_length=64)
    os: str | None = Field(None, max_length=64)
    browser: str | None = Field(None, max_length=64)
    country: str | None = Field(None, max_length=64)
    properties: dict[str, Scalar] = Field(default_factory=dict)


class EventsIn(Strict):
    lead_id: LeadId
    events: list[EventIn] = Field(min_length=1)


class EventsOut(BaseModel):
    lead_id: str
    received: int
    new: int = Field(description="Events not seen before (re-posts are ignored).")
    score: ScoreOut | None
    note: str | None = None


# ----------------------------------------------------------------------------- outcomes


class OutcomeIn(Strict):
    lead_id: LeadId
    converted: bool
    occurred_at: AwareDatetime | None = None


class OutcomeOut(BaseModel):
    lead_id: str
    converted: bool
    occurred_at: datetime
    recorded_at: datetime


# ----------------------------------------------------------------------------- leads


class HistoryPoint(BaseModel):
    score: float
    score_100: int
    segment: Segment
    model_version: str
    scored_at: datetime


class LeadOut(BaseModel):
    lead_id: str
    attributes: dict[str, Any]
    latest: ScoreOut | None
    trend: Trend
    change: int | None = Field(description="Points since the previous score.")
    converted: bool | None = Field(description="The recorded outcome, if any.")
    history: list[HistoryPoint]


class QueueItem(BaseModel):
    rank: int
    lead_id: str
    score: float
    score_100: int
    segment: Segment
    contact: bool
    reasons: list[ReasonOut]
    scored_at: datetime


class QueueOut(BaseModel):
    segment: Segment | None
    counts: dict[str, int]
    leads: list[QueueItem]


# ----------------------------------------------------------------------------- models


class FieldOut(BaseModel):
    name: str
    kind: str
    categories: list[str]


class ServingOut(BaseModel):
    version: str
    reference: str
    model: str
    trained_at: str | None
    loaded_at: datetime
    load_seconds: float = Field(description="How long loading the model took in this worker.")
    precompiled: bool = Field(
        description="Whether its scorer was read as saved with the model (scorer.bin) rather "
        "than compiled at load."
    )
    scores_events: bool
    threshold: float
    fields: list[FieldOut]
    worker: int = Field(description="Process id of the worker that answered.")


class VersionOut(BaseModel):
    version: int
    aliases: list[str]
    model: str
    auc: float | None
    profit: float | None
    rows: int | None
    created: datetime


class ModelsOut(BaseModel):
    serving: ServingOut
    registry: list[VersionOut]
    registry_error: str | None = None


class HealthOut(BaseModel):
    status: Literal["ok", "not ready"]
    checks: dict[str, str] = Field(default_factory=dict)


class ErrorOut(BaseModel):
    detail: str
