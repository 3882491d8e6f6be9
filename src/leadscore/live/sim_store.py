"""What a simulation writes to the store besides scores: events in the form the API takes
them, and the leads' creation and attribute times set back to the simulated day.

The store stamps a lead's creation and each change of its attributes with the time of
writing; a simulation replaying the past needs them at the simulated times (cohorts group
leads by creation week; the point-in-time reads of movers, drift and the training table
take each lead's attributes as of a past moment). :func:`backdate_leads` moves them back;
it only ever moves a time earlier, and only for the leads named.

Example
-------
>>> api_events(pd.DataFrame({"event_id": ["e1"], "lead_id": ["L1"],
...     "timestamp": pd.to_datetime(["2026-03-02 09:00"], utc=True), "event": ["page_view"],
...     "url": ["https://example.com/"], "tz_offset_minutes": [float("nan")]}))
[{'event_id': 'e1', 'time': '2026-03-02T09:00:00+00:00', 'name': 'page_view', 'url': 'https://example.com/'}]
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, update

from leadscore.store import Store
from leadscore.store.tables import Lead, LeadChange

__all__ = ["api_events", "backdate_leads"]

_RENAMED = {"timestamp": "time", "event": "name"}


def api_events(events: pd.DataFrame) -> list[dict[str, Any]]:
    """One lead's events (the generator's columns) as ``POST /v1/events`` and
    ``store.events.add`` take them: ``time`` and ``name``, missing fields left out."""
    out = []
    for record in events.astype(object).to_dict("records"):
        event: dict[str, Any] = {}
        for key, value in record.items():
            if key == "lead_id" or value is None or (isinstance(value, float) and value != value):
                continue
            if key == "timestamp":
                value = pd.Timestamp(value).isoformat()
            elif key == "tz_offset_minutes":
                value = int(value)
            event[_RENAMED.get(key, key)] = value
        out.append(event)
    return out


def backdate_leads(store: Store, created: Mapping[str, datetime]) -> None:
    """Set each named lead's creation time, and the times of its recorded attribute
    changes, back to ``created[lead_id]`` (never forward)."""
    if not created:
        return
    rows = [{"lead": lead_id, "when": when} for lead_id, when in created.items()]
    leads, changes = Lead.__table__, LeadChange.__table__
    with store.engine.begin() as conn:  # one statement each, executed for every lead
        conn.execute(
            update(leads)
            .where(leads.c.id == bindparam("lead"), leads.c.created_at > bindparam("when"))
            .values(created_at=bindparam("when"), updated_at=bindparam("when")),
            rows,
        )
        conn.execute(
            update(changes)
            .where(changes.c.lead_id == bindparam("lead"), changes.c.changed_at > bindparam("when"))
            .values(changed_at=bindparam("when")),
            rows,
        )
