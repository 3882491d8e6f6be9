"""The ``leadscore features`` job: events (and outcomes) in, a lead table out.

Training: give outcomes (a CRM file, or a lead event and a conversion event); the
builder is fitted on the events before each lead's outcome and saved beside the table,
with a small JSON description (roles, point-in-time columns) that ``train`` reads.
Scoring: give the saved builder; features are computed as of a time (default: the latest
event), with exactly the same code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from leadscore.data.events import EventLoad, load_events
from leadscore.data.roles import sidecar_path
from leadscore.data.sources import TableLike
from leadscore.data.table_files import write_table
from leadscore.errors import ArtifactError, DataError, LeadscoreError
from leadscore.features.build import FeatureSettings, LeadFeatureBuilder
from leadscore.features.crm import CrmTable, add_crm_only_leads, join_crm, read_crm
from leadscore.features.labels import cutoffs_for, outcomes_from_events, read_outcomes
from leadscore.features.stream import estimate_events
from leadscore.features.vector import codes_and_uniques

TARGET = "converted"
ID = "lead_id"
TIME = "first_seen"


@dataclass
class LeadTableResult:
    """What :func:`build_lead_table` produced."""

    table: pd.DataFrame
    builder: LeadFeatureBuilder
    load: EventLoad
    notes: list[str]
    #: the columns joined from the CRM table (``leads=``), empty without one
    crm_fields: list[str] = field(default_factory=list)
    #: whether they were taken as of each lead's cutoff (the CRM table has an updated-at
    #: column); if not, the leakage audit checks them like any column of unknown timing
    crm_dated: bool = False


def build_lead_table(
    events: str | Path | list[str | Path] | EventLoad,
    *,
    outcomes: TableLike | None = None,
    lead_event: str | None = None,
    conversion_event: str | None = None,
    cutoff: str | pd.Timestamp | None = None,
    as_of: str | pd.Timestamp | None = None,
    builder: LeadFeatureBuilder | str | Path | None = None,
    settings: FeatureSettings | None = None,
    leads: TableLike | CrmTable | None = None,
) -> LeadTableResult:
    """Build one row of features per lead from raw events.

    Parameters
    ----------
    events:
        Event files, folders or globs (or an already loaded :class:`EventLoad`).
    outcomes:
        A table of lead id, converted and (optionally) outcome time, for training.
    lead_event, conversion_event:
        Outcomes defined by events instead: leads are those with ``lead_event`` (all when
        omitted), converted those with ``conversion_event`` afterwards.
    cutoff:
        Use no event at or after this time (e.g. the date of the export).
    as_of:
        Scoring time for recency features (scoring mode; default: the latest event).
    builder:
        A fitted builder (or its saved path) to reuse; required to score with the features
        a model was trained on.
    settings:
        Feature settings for a new builder.
    leads:
        A CRM table (or :func:`~leadscore.features.crm.read_crm`'s result): each lead's
        fields as of its cutoff (training) or ``as_of`` (scoring) are joined onto its
        behaviour features. Scoring keeps the CRM leads without events too (their
        behaviour features missing, as in training).

    Example
    -------
    >>> from leadscore.demo import write_demo_events
    >>> paths = write_demo_events(Path("demo"), leads=200, new_leads=50)
    >>> result = build_lead_table(paths["events"], outcomes=paths["outcomes"])
    >>> result.table.shape, result.table.columns[:4].tolist()
    ((200, 85), ['lead_id', 'first_seen', 'events', 'page_views'])
    """
    if outcomes is not None and conversion_event is not None:
        raise LeadscoreError("give outcomes or a conversion event, not both")
    if lead_event is not None and conversion_event is None and outcomes is None:
        raise LeadscoreError("a lead event needs a conversion event (or an outcomes file)")
    loaded = events if isinstance(events, EventLoad) else load_events(events)
    frame = loaded.events
    notes: list[str] = []
    crm = read_crm(leads) if leads is not None and not isinstance(leads, CrmTable) else leads
    crm_fields: list[str] = []
    cutoff_ts = pd.Timestamp(cutoff) if cutoff is not None else None
    if isinstance(builder, (str, Path)):
        builder = load_builder(builder)

    labels: pd.DataFrame | None = None
    if outcomes is not None:
        labels = read_outcomes(outcomes)
        _, event_leads = codes_and_uniques(frame[ID])  # the distinct ids, not every event
        unknown = ~labels[ID].isin(event_leads)
        if unknown.all() and crm is None:
            raise DataError(
                "none of the leads in the outcomes has events: are the ids the same in both? "
                f"outcome ids look like {labels[ID].head(3).tolist()}, event ids like "
                f"{frame[ID].head(3).tolist()}"
            )
        if unknown.any():
            notes.append(f"{int(unknown.sum()):,} leads in the outcomes have no events")
    elif conversion_event is not None:
        labels = outcomes_from_events(frame, lead_event, conversion_event, cutoff_ts)
        # The conversion itself is the outcome, never a feature (not even an earlier one).
        frame = frame[(frame["event"] != conversion_event).to_numpy()]

    if labels is not None:
        if labels["outcome_at"].isna().all() and cutoff_ts is None:
            notes.append(
                "the outcomes have no times: features use every event (give outcome times or "
                "--cutoff to keep post-outcome events out)"
            )
        cutoffs = cutoffs_for(labels, cutoff_ts)
        population = pd.Index(labels[ID])
        if builder is None:
            builder = LeadFeatureBuilder(settings)
            features = builder.fit_transform(frame, cutoffs, leads=population)
        else:
            features = builder.transform(frame, cutoffs, leads=population)
        if not builder.as_of_features_:
            notes.append(
                "recency features (days since last event, recent events) are left out: each "
                "lead's outcome time differs, and measured at the outcome they give the answer "
                "away"
            )
        table = labels[[ID, TARGET]].merge(features, on=ID, how="left")
        table[TARGET] = table[TARGET].map({1: "yes", 0: "no"})
        table = table[[ID, *[c for c in features.columns if c != ID], TARGET]]
        if crm is not None:
            table, crm_fields, crm_notes = join_crm(table, crm, cutoffs=cutoffs)
            table = table[[c for c in table.columns if c != TARGET] + [TARGET]]
            notes += crm_notes
    else:
        if builder is None:
            notes.append(
                "no fitted builder given: fitted on these events. To score leads for a model, "
                "pass the builder saved when its training table was built (--builder)."
            )
            builder = LeadFeatureBuilder(settings).fit(frame)
        if cutoff_ts is not None:
            frame = frame[frame["timestamp"] < cutoff_ts]
        table = builder.transform(frame, as_of=as_of if as_of is not None else None)
        if crm is not None:
            table = add_crm_only_leads(table, crm)
            when = as_of if as_of is not None else cutoff_ts
            table, crm_fields, crm_notes = join_crm(
                table, crm, cutoffs=pd.Timestamp(when) if when is not None else None
            )
            notes += crm_notes
    dated = crm is not None and crm.time_column is not None
    return LeadTableResult(table, builder, loaded, notes, crm_fields, dated)


def save_lead_table(
    result: LeadTableResult, out: str | Path, builder_path: str | Path | None = None
) -> dict[str, Path]:
    """Write the table, the fitted builder and the JSON description next to it."""
    written = {"table": write_table(result.table, out)}
    written.update(
        save_beside_table(
            Path(out),
            list(result.table.columns),
            result.builder,
            result.load.counts,
            result.notes,
            builder_path,
            result.crm_fields,
            result.crm_dated,
        )
    )
    return written


def save_beside_table(
    out: Path,
    columns: list[str],
    builder: LeadFeatureBuilder,
    counts: dict[str, int],
    notes: list[str],
    builder_path: str | Path | None = None,
    crm_fields: list[str] | None = None,
    crm_dated: bool = False,
) -> dict[str, Path]:
    """Write the fitted builder and the JSON description beside the table ``out`` (with
    ``columns``): what ``train`` reads to know the id, target and point-in-time columns."""
    crm_fields = list(crm_fields or [])
    builder_file = (
        Path(builder_path)
        if builder_path
        else out.with_name(out.name.split(".")[0] + ".builder.joblib")
    )
    builder_file.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(builder, builder_file)
    described: dict[str, Any] = {
        "created_by": "leadscore features",
        "id": ID,
        "time": TIME,
        "builder": builder_file.name,
        "point_in_time": [
            c for c in columns if c not in (ID, TARGET) and (crm_dated or c not in crm_fields)
        ],
        # where each input comes from: the model records it, and live scoring takes the
        # CRM fields from the lead's stored attributes and the rest from its events
        "sources": {
            "crm": crm_fields,
            "events": [c for c in columns if c not in (ID, TARGET, *crm_fields)],
        },
        "events": counts,
        "notes": notes,
    }
    if TARGET in columns:
        described["target"] = TARGET
    side = sidecar_path(out)
    side.write_text(json.dumps(described, indent=2, default=str))
    return {"builder": builder_file, "description": side}


def load_builder(path: str | Path) -> LeadFeatureBuilder:
    """A builder saved by ``leadscore features``."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"feature builder not found: {path}")
    try:
        builder = joblib.load(path)
    except Exception as exc:  # unpickling fails in many ways; all mean "unusable"
        raise ArtifactError(f"cannot load the feature builder {path}: {exc}") from None
    if not isinstance(builder, LeadFeatureBuilder):
        raise ArtifactError(f"{path} does not hold a leadscore feature builder")
    return builder


def streams(
    events: list[str | Path],
    chunk_events: int,
    *,
    conversion_event: str | None = None,
    leads: object = None,
) -> bool:
    """Whether ``leadscore features`` builds the table a bucket of leads at a time
    (:func:`~leadscore.features.stream.stream_lead_table`): when the events are more than
    one bucket's worth and neither outcomes defined by events nor a CRM join (built in
    memory) are asked for. Database sources are always read whole."""
    if conversion_event is not None or leads is not None:
        return False
    estimate = estimate_events(list(events))
    return estimate is not None and estimate > chunk_events
