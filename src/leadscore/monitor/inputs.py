"""A lead's model inputs as they were at a time, and a period's leads' inputs: what movers
explain and drift compares with the training leads.

A model trained on a lead table reads a lead's attributes as of then (its attribute
history in the store); one trained on event features recomputes them from the events that
had happened by then, with the feature code of training, plus its CRM fields as of then.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from leadscore.data.events import stored_events_frame
from leadscore.modeling.model import LeadModel
from leadscore.store import Store

#: leads a period's inputs are read for at most (a random sample beyond): the population
#: stability index needs hundreds, and a lead on event features costs its feature build
MAX_LEADS = 2_000


def inputs_at(store: Store, model: LeadModel, lead_id: str, when: datetime) -> dict[str, Any]:
    """The lead's model inputs as they were at ``when``: its features from the events
    received by then (a model trained on event features) and its attributes as of then.

    Example
    -------
    >>> _ = store.leads.upsert("L9", {"source": "google"})
    >>> inputs_at(store, model, "L9", datetime.now(UTC))["source"]
    'google'
    """
    when = _utc(when)
    attributes = _attributes_as_of(store.leads.history([lead_id]), when).get(lead_id, {})
    return _row(store, model, lead_id, attributes, when)


def _attributes_as_of(
    history: Sequence[tuple[str, datetime, dict[str, Any]]], when: datetime
) -> dict[str, dict[str, Any]]:
    """Each lead's last recorded attributes at or before ``when`` (history in time order)."""
    out: dict[str, dict[str, Any]] = {}
    for lead_id, changed, state in history:
        if changed <= when:
            out[lead_id] = state
    return out


def _row(
    store: Store, model: LeadModel, lead_id: str, attributes: dict[str, Any], when: datetime
) -> dict[str, Any]:
    if getattr(model, "feature_builder_", None) is None:
        return _attribute_row(model, attributes)
    rows = _event_rows(store, model, [lead_id], {lead_id: attributes}, when)
    if lead_id in rows:
        return rows[lead_id]
    # no events by then: every event feature missing, the CRM fields as they were
    row: dict[str, Any] = dict.fromkeys(model.schema_.names)
    row.update({name: attributes.get(name) for name in model.crm_fields})
    return row


def window_inputs(
    store: Store,
    model: LeadModel,
    lead_ids: Sequence[str],
    when: datetime,
    *,
    max_leads: int = MAX_LEADS,
    seed: int = 0,
) -> pd.DataFrame:
    """The inputs of ``lead_ids`` as of ``when``, one row each indexed by lead id (a
    random sample of ``max_leads`` when there are more), in the model's input columns and
    training types.

    A model on event features reads the leads' stored events (a chunk of leads per
    query, one feature build per chunk); a lead with no stored event by ``when`` (scored
    in batch from a file, whose events the store never saw) has no inputs to read and is
    left out, rather than counted as a lead whose every feature is missing: the caller
    tells how many by comparing the index with what it asked for.

    Example
    -------
    >>> _ = store.leads.upsert("L1", {"source": "google", "visits": 3})
    >>> window_inputs(store, model, ["L1"], datetime.now(UTC))[["source", "visits"]].values.tolist()
    [['google', 3.0]]
    """
    ids = sorted(set(lead_ids))
    if len(ids) > max_leads:
        ids = sorted(random.Random(seed).sample(ids, max_leads))
    when = _utc(when)
    # one read of the attribute history for them all, not one per lead
    attributes = _attributes_as_of(store.leads.history(ids), when)
    if getattr(model, "feature_builder_", None) is None:
        rows = {i: _attribute_row(model, attributes.get(i, {})) for i in ids}
    else:
        rows = _event_rows(store, model, ids, attributes, when)
    frame = pd.DataFrame(list(rows.values()), columns=list(model.schema_.names))
    # typed as training typed them: placeholders ("Select") missing, numbers numbers
    conformed = model.schema_.conform(frame)
    conformed.index = pd.Index(list(rows), name="lead_id", dtype="str")
    return conformed


def _attribute_row(model: LeadModel, attributes: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(model.schema_.names)
    row.update({k: v for k, v in attributes.items() if k in row})
    return row


def _event_rows(
    store: Store,
    model: LeadModel,
    ids: Sequence[str],
    attributes: dict[str, dict[str, Any]],
    when: datetime,
) -> dict[str, dict[str, Any]]:
    """Event-feature inputs of the leads with events by ``when``, by lead id."""
    names = list(model.schema_.names)
    as_of = pd.Timestamp(when).tz_convert(None)
    rows: dict[str, dict[str, Any]] = {}
    for chunk in store.events.for_leads(ids):
        kept = [e for e in chunk if e.time <= when]
        if not kept:
            continue
        features = model.event_features(stored_events_frame(kept, "stored events"), as_of=as_of)
        for record in features.to_dict("records"):
            lead_id = str(record["lead_id"])
            row = {name: record.get(name) for name in names}
            row.update({n: attributes.get(lead_id, {}).get(n) for n in model.crm_fields})
            rows[lead_id] = row
    return dict(sorted(rows.items()))


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
