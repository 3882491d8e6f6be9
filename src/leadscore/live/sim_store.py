"""What a simulation writes to the store besides scores: events in the form the API takes
them. (The leads' creation and attribute times are set back to the simulated day by
:meth:`store.leads.backdate <leadscore.store.leads.LeadRepository.backdate>`.)

Example
-------
>>> api_events(pd.DataFrame({"event_id": ["e1"], "lead_id": ["L1"],
...     "timestamp": pd.to_datetime(["2026-03-02 09:00"], utc=True), "event": ["page_view"],
...     "url": ["https://example.com/"], "tz_offset_minutes": [float("nan")]}))
[{'event_id': 'e1', 'time': '2026-03-02T09:00:00+00:00', 'name': 'page_view', 'url': 'https://example.com/'}]
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["api_events"]

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
