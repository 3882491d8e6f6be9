"""Typed request and response bodies of the API.

A lead's ``attributes`` are checked against the serving model's input schema by
:mod:`leadscore.service.inputs` (the model can change on reload, the routes cannot), so
here they are a mapping; the OpenAPI document shows the serving model's fields.

Hostile input is refused with 422 naming the field (:mod:`leadscore.service.bad_input`
says why each rule is what it is): non-finite numbers anywhere (``allow_inf_nan=False``
on every request model), control characters in ids and codes (:data:`Code`), all but tab,
newline and carriage return in free text (:data:`Text`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from leadscore.service.bad_input import LEAD_ID, NO_CONTROLS, TEXT, check_text

LeadId = Annotated[
    str,
    Field(
        min_length=1, max_length=200, pattern=LEAD_ID,
        description="Your id of the lead (CRM id, Mixpanel distinct_id …).",
        examples=["L000123"],
    ),
]  # fmt: skip
Segment = Literal["hot", "warm", "cold"]
#: what a sales override sets, and so what a lead's answered segment can be
OverrideSegment = Literal["hot", "warm", "cold", "exclude"]
Trend = Literal["improving", "steady", "declining", "new"]
#: an id or short code (event name, UTM value, property name …): no control character
Code = Annotated[str, Field(pattern=NO_CONTROLS)]
#: free text (page title, user agent): tab, newline and carriage return allowed, no other
#: control character and never NUL
Text = Annotated[str, Field(pattern=TEXT)]
#: a custom property's value: free text or a finite number (one error, not one per type)
Scalar = Annotated[str | int | float | bool | None, BeforeValidator(check_text)]


class Strict(BaseModel):
    """Unknown fields are an error (422 naming them), not silently ignored; so are
    ``NaN``, ``Infinity`` and numbers too large for a float (``1e400``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# ----------------------------------------------------------------------------- scoring


#: a display field's name and value: who the lead is, for people (never a model input)
DisplayName = Annotated[str, Field(min_length=1, max_length=100, pattern=TEXT)]
DisplayValue = Annotated[str | None, Field(max_length=500, pattern=TEXT)]
Display = Annotated[
    dict[DisplayName, DisplayValue],
    Field(
        max_length=20,
        description="Who the lead is, for the people working it: name, company, e-mail, "
        "phone, owner, CRM id … (at most 20 fields). Stored with the lead and shown in the "
        "work queue and on the lead page; never read by the model. A field that is one of "
        "the model's inputs belongs in attributes.",
        examples=[{"name": "Ada Lovelace", "company": "Analytical Engines", "owner": "maria"}],
    ),
]


class LeadIn(Strict):
    lead_id: LeadId
    attributes: dict[str, Any] = Field(
        description="The model's input fields (see the schema of the serving model). Every "
        "field must be present; null means unknown."
    )
    display: Display = Field(default_factory=dict)


class BatchIn(Strict):
    leads: list[LeadIn] = Field(min_length=1)


class ReasonOut(BaseModel):
    field: str
    value: str = Field(description="The lead's value in words.", examples=["26 min (high)"])
    points: float = Field(description="Effect on the 0–100 score.")
    direction: Literal["up", "down"]
    text: str = Field(examples=["Time on site: 26 min (high) → +18", "Came back the same day → +9"])
    actionable: bool | None = Field(
        None,
        description="Whether sales can act on the field (visits, demo requests: yes; country, "
        "device: no), from the data dictionary the model was trained with or the field's name; "
        "null for reasons stored before it was recorded.",
    )


class OverrideOut(BaseModel):
    """A sales override of a lead's segment."""

    segment: OverrideSegment
    reason: str
    author: str = Field(description="Who set it: a dashboard user, an API key's name …")
    since: datetime
    until: datetime | None = Field(description="When it ends by itself (null: when cleared).")


class CapacityOut(BaseModel):
    """The team's contacts this period (``[capacity]`` in the settings): a rolling quota."""

    limit: int = Field(description="Contacts the team can make per period.")
    used: int = Field(
        description="Slots taken: leads pinned hot or worked (an outcome recorded) this "
        "period, plus the best candidates within the quota."
    )
    period: Literal["day", "week"]
    since: datetime = Field(description="When the period began (midnight, the team's zone).")
    cutoff: float | None = Field(
        description="Once the quota is full, the weakest contacted candidate's score (0–1): a "
        "new lead must score above it; null while slots are free."
    )
    cutoff_100: int | None = None
    within: bool | None = Field(
        None, description="Whether this lead holds one of the period's slots."
    )
    model_contact: bool | None = Field(
        None, description="The model's own decision, before the quota and any override."
    )


_SEGMENT = (
    "The lead's segment: a sales override's while one is in force (exclude: out of the work "
    "queue), else the model's."
)


class ScoreOut(BaseModel):
    lead_id: str
    score: float = Field(
        ge=0, le=1, description="Calibrated probability of converting (the model's)."
    )
    score_100: int = Field(ge=0, le=100)
    segment: OverrideSegment = Field(description=_SEGMENT)
    contact: bool = Field(
        description="Whether to contact the lead: a contact pays off at the business values, "
        "or the lead was drawn for exploration (see explored); an override to hot says yes, "
        "to cold or exclude no; with a capacity set, the model's contacts only for the "
        "period's best leads within the quota (see capacity)."
    )
    explored: bool = Field(
        False,
        description="Contact by exploration: below the cut-off, drawn at random so the model "
        "keeps learning from leads it would leave alone ([exploration] in the settings).",
    )
    propensity: float | None = Field(
        None,
        ge=0,
        le=1,
        description="The chance the policy had of contacting this lead (1 above the cut-off, "
        "the exploration share below); null for scores stored before exploration.",
    )
    reasons: list[ReasonOut]
    model_version: str
    scored_at: datetime
    warnings: list[str] = Field(default_factory=list)
    notifications: int = Field(0, description="Webhook deliveries this score queued.")
    overridden: bool = Field(False, description="Whether a sales override sets the segment.")
    model_segment: Segment | None = Field(None, description="The model's own segment.")
    override: OverrideOut | None = None
    capacity: CapacityOut | None = Field(
        None, description="The period's quota, when a capacity is set (null: none)."
    )


class BatchOut(BaseModel):
    scores: list[ScoreOut]


# ----------------------------------------------------------------------------- events


class EventIn(Strict):
    """One behaviour event; the fields of leadscore's event schema."""

    event_id: Code | None = Field(None, max_length=200, description="For de-duplication.")
    time: AwareDatetime = Field(
        description="ISO 8601 with a time zone, or epoch seconds / milliseconds."
    )
    name: Code = Field(min_length=1, max_length=200, examples=["page_view"])
    # a URL holds no raw control character (RFC 3986; a browser's location.href has them
    # percent-encoded), so one there is not a URL
    url: Code | None = Field(None, max_length=4000)
    page_title: Text | None = Field(None, max_length=1000)
    referrer: Code | None = Field(None, max_length=4000)
    utm_source: Code | None = Field(None, max_length=200)
    utm_medium: Code | None = Field(None, max_length=200)
    utm_campaign: Code | None = Field(None, max_length=200)
    user_agent: Text | None = Field(None, max_length=1000)
    ip: Code | None = Field(None, max_length=64)
    tz_offset_minutes: int | None = Field(None, ge=-840, le=840)
    timezone: Code | None = Field(None, max_length=64)
    device_type: Code | None = Field(None, max_length=64)
    os: Code | None = Field(None, max_length=64)
    browser: Code | None = Field(None, max_length=64)
    country: Code | None = Field(None, max_length=64)
    properties: dict[Code, Scalar] = Field(default_factory=dict)


class EventsIn(Strict):
    lead_id: LeadId
    events: list[EventIn] = Field(min_length=1)


class EventsOut(BaseModel):
    lead_id: str
    received: int
    new: int = Field(description="Events not seen before (re-posts are ignored).")
    score: ScoreOut | None
    note: str | None = None


class AttributesIn(Strict):
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        description="Some of the serving model's input fields (those that changed); the "
        "others keep their stored values.",
    )
    display: Display = Field(default_factory=dict)

    @model_validator(mode="after")
    def _something(self) -> AttributesIn:
        if not self.attributes and not self.display:
            raise ValueError("send attributes, display fields or both")
        return self


class LeadUpdateOut(BaseModel):
    lead_id: str
    attributes: dict[str, Any] = Field(description="All the lead's attributes, merged.")
    score: ScoreOut | None
    note: str | None = None


# ----------------------------------------------------------------------------- outcomes


class OutcomeIn(Strict):
    lead_id: LeadId
    converted: bool
    occurred_at: AwareDatetime | None = None
    contacted: bool | None = Field(
        None,
        description="Whether sales contacted the lead before the outcome (null: not said; "
        "monitoring then takes the score's contact decision).",
    )


class OutcomeOut(BaseModel):
    lead_id: str
    converted: bool
    occurred_at: datetime
    recorded_at: datetime
    contacted: bool | None = None


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
    history: list[HistoryPoint] = Field(description="The model's own scores, newest first.")
    override: OverrideOut | None = Field(None, description="The sales override in force.")


class QueueItem(BaseModel):
    rank: int
    lead_id: str
    score: float
    score_100: int
    segment: Segment
    contact: bool
    explored: bool = Field(False, description="Contact by exploration (see ScoreOut).")
    propensity: float | None = Field(None, ge=0, le=1)
    reasons: list[ReasonOut]
    scored_at: datetime
    overridden: bool = False
    model_segment: Segment | None = None
    override: OverrideOut | None = None
    within_capacity: bool | None = Field(
        None, description="Whether it holds one of the period's slots (null: no capacity set)."
    )


class QueueOut(BaseModel):
    segment: Segment | None
    counts: dict[str, int]
    leads: list[QueueItem]
    capacity: CapacityOut | None = Field(
        None, description="The period's quota used, when a capacity is set (null: none)."
    )


# ----------------------------------------------------------------------------- overrides


class OverrideIn(Strict):
    segment: OverrideSegment = Field(description="hot, warm, cold, or exclude (off the queue).")
    reason: Text = Field(min_length=1, max_length=1000, examples=["VIP referral"])
    until: AwareDatetime | None = Field(None, description="When it ends (default: never).")


class OverrideChangeOut(BaseModel):
    lead_id: str
    segment: OverrideSegment | None = Field(description="What the lead counts as now.")
    model_segment: Segment | None = Field(description="The model's (null: not scored yet).")
    override: OverrideOut | None = Field(description="The override in force now.")
    previous: OverrideOut | None = Field(description="The override replaced or cleared.")
    notifications: int = Field(description="lead.hot webhook deliveries queued.")


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
    status: Literal["ok", "not ready", "draining"]
    checks: dict[str, str] = Field(default_factory=dict)


class ErrorOut(BaseModel):
    detail: str
