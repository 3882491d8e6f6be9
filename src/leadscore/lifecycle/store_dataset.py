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

In production only contacted leads get outcomes, so the table is a sample the serving
model chose. ``weight_by_propensity`` adds each lead's weight, 1 / its chance of contact
at its last score before its outcome (:func:`propensity_weights`), as a column with the
``weight`` role (never a feature): an explored lead below the cut-off then stands for the
1 / share leads like it that nobody called, and a model trained with the weights
(``leadscore retrain --from-store --weight-by-propensity``) learns from every lead.

Example (a store with scored leads and recorded outcomes)::

    built = store_dataset(store, since="2026-01-01")
    save_store_dataset(built, "leads.parquet")
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
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
#: the column of inverse-propensity weights (the table's ``weight`` role)
WEIGHT = "propensity_weight"


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
    #: the weight column (:data:`WEIGHT`) when built with ``weight_by_propensity``
    weight: str | None = None


def store_labels(store: Store, since: datetime | str | None = None) -> pd.DataFrame:
    """The outcomes recorded in the store (since ``since``) as a label table: ``lead_id``,
    ``converted`` (0/1) and ``outcome_at`` (UTC, naive), the cutoff of each lead's row.

    Raises :class:`~leadscore.errors.DataError` when the store holds no outcome.

    Example
    -------
    >>> _ = store.outcomes.add("L7", True)
    >>> store_labels(store)[["lead_id", "converted"]].to_dict("records")
    [{'lead_id': 'L7', 'converted': 1}]
    """
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


def attribute_history(store: Store, lead_ids: list[str]) -> CrmTable | None:
    """Every stored state of the leads' attributes, with when each began, as a CRM table
    (the point-in-time join of :func:`store_dataset` reads it); None without any.

    Example
    -------
    >>> attribute_history(store, ["no-such-lead"]) is None
    True
    """
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
    weight_by_propensity: bool = False,
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
    weight_by_propensity:
        Add the column :data:`WEIGHT`: each lead's 1 / propensity (see
        :func:`propensity_weights`), the table's ``weight`` role.
    """
    labels = store_labels(store, since)
    dataset = _build(store, labels, settings, builder)
    if weight_by_propensity:
        if WEIGHT in dataset.table.columns:
            raise DataError(
                f"the leads have an attribute named {WEIGHT!r}: it clashes with the weight "
                "column; rename the attribute to weight by propensity"
            )
        weights, notes = propensity_weights(store, labels)
        ids = dataset.table[ID].astype(str)
        dataset.table[WEIGHT] = ids.map(weights).fillna(1.0).to_numpy(dtype=float)
        dataset.notes.extend(notes)
        dataset.weight = WEIGHT
    return dataset


def _build(
    store: Store,
    labels: pd.DataFrame,
    settings: FeatureSettings | None,
    builder: LeadFeatureBuilder | None,
) -> StoreDataset:
    lead_ids = labels[ID].tolist()
    attributes = attribute_history(store, lead_ids)
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


def propensity_weights(store: Store, labels: pd.DataFrame) -> tuple[pd.Series, list[str]]:
    """Each labelled lead's inverse-propensity weight (by lead id, in the order of
    ``labels``), and notes on them.

    The propensity is the policy's chance of contacting the lead at its last score at or
    before its outcome (``labels``: ``lead_id``, ``outcome_at`` naive UTC, one row per
    lead): 1 above the cut-off, the exploration share below it. The weight is 1 /
    propensity for a contacted lead (an explored one weighs 1 / share); 1 for a contacted
    lead scored before exploration (no propensity); and 1, counted in a note, for a lead
    with an outcome the policy gave no chance (not contacted by it, or a propensity of 0)
    or never scored before its outcome: it stands only for itself.

    The database finds each of those scores (:meth:`ScoreRepository.at
    <leadscore.store.scores.ScoreRepository.at>`: one index probe per lead), so only one
    score per labelled lead is read, not the store's whole history.

    Example (a store whose exploration contacted a lead below the cut-off at 5 %)::

        weights, notes = propensity_weights(store, labels)
        weights["L7"]  # 20.0
    """
    ids = labels[ID].astype(str)
    if ids.duplicated().any():
        raise DataError(
            f"labels list some leads more than once, e.g. {ids[ids.duplicated()].head(3).tolist()}"
        )
    # a stored time has whole microseconds: a score at or before the floor is at or
    # before the outcome itself
    times = _naive_ns(labels["outcome_at"]).dt.floor("us")
    if times.isna().any():
        raise DataError(f"labels.outcome_at is missing for {int(times.isna().sum())} leads")
    found = store.scores.at(list(zip(ids, times.dt.to_pydatetime(), strict=True)))
    scored = np.array([s is not None for s in found], dtype=bool)
    contact = np.array([s is not None and bool(s.contact) for s in found], dtype=bool)
    explored = np.array([s is not None and bool(s.explored) for s in found], dtype=bool)
    chance = np.array(
        [np.nan if s is None or s.propensity is None else s.propensity for s in found],
        dtype=float,
    )
    weighted = contact & (chance > 0)
    weights = np.ones(len(found))
    weights[weighted] = 1.0 / chance[weighted]
    return pd.Series(weights, index=ids.to_numpy()), _weight_notes(
        weights, explored & weighted, scored, contact, chance
    )


def _naive_ns(times: Sequence[Any] | pd.Series) -> pd.Series:
    """Times as naive UTC nanoseconds (SQLite returns naive UTC, PostgreSQL aware)."""
    parsed = pd.to_datetime(pd.Series(times), utc=True).dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


def _weight_notes(
    weights: np.ndarray,
    explored: np.ndarray,
    scored: np.ndarray,
    contact: np.ndarray,
    chance: np.ndarray,
) -> list[str]:
    """What a person should know of the weights: how many explored leads carry how much."""
    n = len(weights)
    notes = [
        f"weighted by 1 / propensity: {int(explored.sum()):,} of {n:,} leads with outcomes were "
        f"explored (weights {_span(weights[explored])}), {int((weights == 1).sum()):,} weigh 1; "
        f"the weights add up to {weights.sum():,.0f} leads"
    ]
    if not explored.any():
        notes.append(
            "no lead with an outcome was contacted by exploration: every weight is 1 and "
            "weighting changes nothing (is exploration on? [exploration] share)"
        )
    no_chance = scored & (~contact | (chance == 0))
    if no_chance.any():
        notes.append(
            f"{int(no_chance.sum()):,} leads with an outcome had no chance of contact by the "
            "policy (not contacted by it, or a propensity of 0): weighted 1, they stand only "
            "for themselves"
        )
    if (~scored).any():
        notes.append(
            f"{int((~scored).sum()):,} leads with an outcome have no score before it: weighted 1"
        )
    before = contact & np.isnan(chance)
    if before.any():
        notes.append(
            f"{int(before.sum()):,} contacted leads were scored before exploration (no "
            "propensity): weighted 1"
        )
    return notes


def _span(values: np.ndarray) -> str:
    if not len(values):
        return "none"
    low, high = float(values.min()), float(values.max())
    return f"{low:.3g}" if low == high else f"{low:.3g} to {high:.3g}"


def save_store_dataset(dataset: StoreDataset, out: str | Path) -> dict[str, Path]:
    """Write the table (and, with events, its feature builder) with the description
    ``train`` reads beside it, as ``leadscore features`` does."""
    out = Path(out)
    if dataset._result is not None:
        written = save_lead_table(dataset._result, out)
        if dataset.weight is not None:
            _describe_weight(written["description"], dataset.weight)
        return written
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
    if dataset.weight is not None:
        described["weight"] = dataset.weight
    side = sidecar_path(out)
    side.write_text(json.dumps(described, indent=2, default=str))
    written["description"] = side
    return written


def _describe_weight(side: Path, weight: str) -> None:
    """Name the weight column in a lead table's description: its ``weight`` role, and
    neither a point-in-time input nor an event feature."""
    described = json.loads(side.read_text())
    described["weight"] = weight
    described["point_in_time"] = [c for c in described.get("point_in_time", []) if c != weight]
    sources = described.get("sources") or {}
    for origin in ("crm", "events"):
        sources[origin] = [c for c in sources.get(origin, []) if c != weight]
    side.write_text(json.dumps(described, indent=2, default=str))
