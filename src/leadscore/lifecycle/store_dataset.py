"""The score store as the training source: every lead with a recorded outcome, its
features as they were at its outcome.

Production writes leads (their CRM fields and model inputs, with every change kept in
the lead's history), events and outcomes to the store (``POST /v1/…``, ``leadscore
outcomes import``). :func:`store_dataset` turns them into the same training table
``leadscore features`` writes from files: behaviour features from each lead's events
strictly before its outcome (the feature code of training), joined with its attributes
as they were at that moment (the latest state recorded at or before it; a field set
after the outcome never reaches the model). A store without events gives the attributes
alone (a lead-table model).

Example (a store with scored leads and recorded outcomes)::

    built = store_dataset(store, since="2026-01-01")
    save_store_dataset(built, "leads.parquet")
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from leadscore.data.events import EventLoad, stored_events_frame
from leadscore.data.roles import sidecar_path
from leadscore.data.table_files import write_table
from leadscore.errors import DataError
from leadscore.features.build import FeatureSettings, LeadFeatureBuilder
from leadscore.features.crm import CrmTable, join_crm
from leadscore.features.table import ID, TARGET, LeadTableResult, build_lead_table, save_lead_table
from leadscore.store import Store

#: the time column of the attribute history, as a CRM table's updated-at
CHANGED_AT = "changed_at"


@dataclass
class StoreDataset:
    """What :func:`store_dataset` built: the table, the feature builder (None when the
    store holds no events), the attribute fields joined, and notes."""

    table: pd.DataFrame
    builder: LeadFeatureBuilder | None
    fields: list[str]
    notes: list[str] = field(default_factory=list)
    events: int = 0
    _result: LeadTableResult | None = None


def _labels(store: Store, since: datetime | str | None) -> pd.DataFrame:
    start = pd.Timestamp(since).to_pydatetime() if since is not None else None
    outcomes = store.outcomes.all(since=start)
    if not outcomes:
        after = f" since {since}" if since is not None else ""
        raise DataError(
            f"the score store has no recorded outcomes{after}: record them with POST "
            "/v1/outcomes or `leadscore outcomes import EXPORT`"
        )
    return pd.DataFrame(
        {
            ID: [o.lead_id for o in outcomes],
            TARGET: [int(o.converted) for o in outcomes],
            "outcome_at": pd.to_datetime(
                [o.occurred_at.replace(tzinfo=None) for o in outcomes]  # UTC, naive
            ),
        }
    )


def _attribute_history(store: Store, lead_ids: list[str]) -> CrmTable | None:
    states = store.leads.history(lead_ids)
    if not states:
        return None
    rows = pd.DataFrame([{ID: lead, CHANGED_AT: when, **attrs} for lead, when, attrs in states])
    rows[CHANGED_AT] = pd.to_datetime(rows[CHANGED_AT], utc=True).dt.tz_localize(None)
    fields = [c for c in rows.columns if c not in (ID, CHANGED_AT, TARGET)]
    if not fields:
        return None
    return CrmTable(rows, fields, CHANGED_AT)


def store_dataset(
    store: Store,
    *,
    since: datetime | str | None = None,
    settings: FeatureSettings | None = None,
    builder: LeadFeatureBuilder | None = None,
) -> StoreDataset:
    """The training table of every lead with a recorded outcome (occurred at or after
    ``since``), each lead's features as of its outcome time.

    Parameters
    ----------
    store:
        The score store.
    since:
        Only outcomes that occurred at or after this time (a sliding window).
    settings:
        Feature settings of the new feature builder (events only).
    builder:
        A fitted feature builder to reuse instead (the serving champion's, so that a
        retraining judges the champion and its challenger on the same inputs).
    """
    labels = _labels(store, since)
    lead_ids = labels[ID].tolist()
    attributes = _attribute_history(store, lead_ids)
    chunks = [stored_events_frame(chunk) for chunk in store.events.for_leads(lead_ids)]
    if chunks:
        events = pd.concat(chunks, ignore_index=True)
        load = EventLoad(events=events, quarantine=pd.DataFrame(), files=["score store"])
        built = build_lead_table(
            load, outcomes=labels, leads=attributes, settings=settings, builder=builder
        )
        return StoreDataset(
            built.table, built.builder, built.crm_fields, built.notes, len(events), built
        )
    if attributes is None:
        raise DataError(
            "the leads with outcomes have neither events nor attributes in the store: "
            "nothing to learn from"
        )
    cutoffs = pd.Series(labels["outcome_at"].to_numpy(), index=labels[ID])
    table, fields, notes = join_crm(labels[[ID]], attributes, cutoffs=cutoffs)
    table[TARGET] = labels[TARGET].map({1: "yes", 0: "no"}).to_numpy()
    return StoreDataset(table, None, fields, notes)


def save_store_dataset(dataset: StoreDataset, out: str | Path) -> dict[str, Path]:
    """Write the table (and, with events, its feature builder) with the description
    ``train`` reads beside it, as ``leadscore features`` does."""
    out = Path(out)
    if dataset._result is not None:
        return save_lead_table(dataset._result, out)
    written = {"table": write_table(dataset.table, out)}
    described: dict[str, Any] = {
        "created_by": "leadscore dataset --from-store",
        "id": ID,
        "target": TARGET,
        # attributes as of each lead's outcome: point in time by construction
        "point_in_time": list(dataset.fields),
        "sources": {"crm": list(dataset.fields), "events": []},
        "notes": dataset.notes,
    }
    side = sidecar_path(out)
    side.write_text(json.dumps(described, indent=2, default=str))
    written["description"] = side
    return written
