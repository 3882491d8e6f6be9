"""A lead's CRM fields beside its behaviour: one row per lead, as it was at a point in time.

A CRM or enrichment table (company size, industry, job title, lead source …) holds one
row per lead, or several when it is a change history. With an updated-at column, a lead's
fields are those of its latest row at or before its cutoff (the outcome time in training,
the scoring time otherwise): a field filled in after the outcome never reaches the model.
Without one, the single row per lead is taken as it is (the leakage audit of ``train``
then checks the fields like any other column).

Outcome columns (converted, its time) and the id are never fields, so the CRM export that
holds the outcomes can be given as both ``--labels`` and ``--leads``. A CRM field whose
name is also a behaviour feature's (``country``) is kept as ``crm_<name>``.

Example
-------
>>> crm = pd.DataFrame({"lead_id": ["a", "a", "b"], "industry": ["Retail", "Software", "Bank"],
...     "updated_at": ["2026-01-01", "2026-03-01", "2026-01-05"]})
>>> table = read_crm(crm)
>>> table.fields, table.time_column
(['industry'], 'updated_at')
>>> cutoffs = pd.Series(pd.to_datetime(["2026-02-01", "2026-02-01"]), index=["a", "b"])
>>> table.as_of(cutoffs)[["lead_id", "industry"]].to_dict("records")
[{'lead_id': 'a', 'industry': 'Retail'}, {'lead_id': 'b', 'industry': 'Bank'}]
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import pandas as pd

from leadscore.data.columns import normalise_name, to_datetime
from leadscore.data.roles import infer_target
from leadscore.data.sources import TableLike, read_table
from leadscore.errors import SchemaError
from leadscore.features.labels import ID_NAMES, OUTCOME_TIME_NAMES

ID = "lead_id"

#: the names an updated-at column goes by (normalised: lower case, underscores)
UPDATED_NAMES = (
    "updated_at", "updated", "modified_at", "last_modified", "last_modified_at",
    "last_updated", "valid_from", "snapshot_at", "as_of",
)  # fmt: skip
#: outcome columns a CRM export carries beside the fields: never features
_OUTCOME_NAMES = ("converted", *OUTCOME_TIME_NAMES)


@dataclass(frozen=True)
class CrmTable:
    """A CRM table read for joining: ``rows`` (``lead_id``, the fields, and the
    updated-at time when there is one), the field names, and notes on what was done."""

    rows: pd.DataFrame
    fields: list[str]
    time_column: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def leads(self) -> pd.Index:
        """The distinct lead ids of the table."""
        return pd.Index(self.rows[ID].unique())

    def as_of(self, cutoffs: pd.Series | pd.Timestamp | None = None) -> pd.DataFrame:
        """One row per lead: its fields as they were at its cutoff.

        ``cutoffs`` is a per-lead Series (index: lead id; a missing or NaT cutoff takes
        the latest row), one time for every lead, or None (the latest row of each lead).
        Without an updated-at column every lead has one row and it is returned as is. A
        lead whose rows are all later than its cutoff has no fields (left out here; a
        left join makes them missing).
        """
        rows = self.rows
        if self.time_column is None:
            return rows[[ID, *self.fields]].reset_index(drop=True)
        if cutoffs is not None:
            if isinstance(cutoffs, pd.Series):
                limit = rows[ID].map(cutoffs)
            else:
                limit = pd.Series(pd.Timestamp(cutoffs), index=rows.index)
            limit = pd.to_datetime(limit)
            # at or before the cutoff; a lead without a cutoff keeps all its rows
            rows = rows[limit.isna() | (rows[self.time_column] <= limit)]
        latest = rows.sort_values([ID, self.time_column], kind="stable").drop_duplicates(
            ID, keep="last"
        )
        return latest[[ID, *self.fields]].reset_index(drop=True)


def read_crm(
    source: TableLike,
    *,
    id_column: str | None = None,
    time_column: str | None = None,
    use_time: bool = True,
    target: str | None = None,
) -> CrmTable:
    """Read a CRM table for :func:`join_crm`.

    Parameters
    ----------
    source:
        A file, source URL or DataFrame.
    id_column:
        The lead id (default: found by name: lead_id, distinct_id, user_id, id …).
    time_column:
        The updated-at column (default: found by name: updated_at, modified_at …).
    use_time:
        False: ignore any updated-at column (a one-off export taken before the outcomes).
    target:
        The outcome column to leave out (default: found by name, as for training).
    """
    frame = read_table(source)
    if frame.empty:
        raise SchemaError("the CRM table has no rows")
    by_name = {normalise_name(c): c for c in frame.columns}
    found_id = id_column or next((by_name[n] for n in ID_NAMES if n in by_name), None)
    if found_id is None or found_id not in frame.columns:
        raise SchemaError(
            "the CRM table needs a lead id column (lead_id, distinct_id, user_id, id …; or "
            f"give --leads-id). Columns: {list(frame.columns)}"
        )
    notes: list[str] = []
    found_time = None
    if use_time:
        found_time = time_column or next((by_name[n] for n in UPDATED_NAMES if n in by_name), None)
        if found_time is not None and found_time not in frame.columns:
            raise SchemaError(f"the CRM table has no column {found_time!r}")
    outcome = target if target is not None else _quiet_target(frame)
    left_out = {found_id, found_time, outcome}
    left_out |= {by_name[n] for n in _OUTCOME_NAMES if n in by_name}
    fields = [c for c in frame.columns if c not in left_out]
    if not fields:
        raise SchemaError(
            f"the CRM table has no fields besides its id and outcome: {list(frame.columns)}"
        )
    rows = frame[fields].copy()
    rows.insert(0, ID, frame[found_id].astype("string").str.strip())
    missing_id = rows[ID].isna() | (rows[ID] == "")
    if missing_id.any():
        notes.append(f"{int(missing_id.sum()):,} CRM rows without a lead id were left out")
    if found_time is not None:
        rows[found_time] = to_datetime(frame[found_time])
        undated = rows[found_time].isna() & ~missing_id
        if undated.any():
            notes.append(
                f"{int(undated.sum()):,} CRM rows without a {found_time} were left out "
                "(their fields could be from after the outcome)"
            )
        rows = rows[~missing_id & ~undated]
    else:
        rows = rows[~missing_id]
        repeated = rows[ID].duplicated()
        if repeated.any():
            raise SchemaError(
                f"the CRM table lists {int(repeated.sum()):,} leads more than once (e.g. "
                f"{rows.loc[repeated, ID].head(3).tolist()}) and has no updated-at column to "
                "tell the versions apart; give --leads-time COLUMN or de-duplicate it"
            )
    return CrmTable(rows.reset_index(drop=True), fields, found_time, notes)


def _quiet_target(frame: pd.DataFrame) -> str | None:
    try:
        return infer_target(frame)
    except Exception:  # no outcome column: a CRM table need not have one
        return None


def add_crm_only_leads(features: pd.DataFrame, crm: CrmTable) -> pd.DataFrame:
    """``features`` with a row for every CRM lead it lacks (behaviour missing, as the
    left join of training leaves the behaviour of a lead without events)."""
    missing = crm.leads.difference(pd.Index(features[ID].astype("string")))
    if missing.empty:
        return features
    extra = pd.DataFrame({ID: missing.astype(features[ID].dtype)})
    return pd.concat([features, extra], ignore_index=True)


def join_crm(
    features: pd.DataFrame,
    crm: CrmTable,
    *,
    cutoffs: pd.Series | pd.Timestamp | None = None,
    taken: Collection[str] = (),
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """``features`` (one row per lead, ``lead_id`` first) with each lead's CRM fields as
    of its cutoff joined on: ``(table, CRM column names as joined, notes)``.

    Leads in ``features`` without a CRM row keep missing fields; CRM leads without a row
    in ``features`` are not added here (the caller decides the population). A field named
    like a column of ``features`` or of ``taken`` is renamed ``crm_<name>``.
    """
    fields = crm.as_of(cutoffs)
    fields[ID] = fields[ID].astype(features[ID].dtype)
    clash = set(features.columns) | set(taken)
    renamed = {f: f"crm_{f}" for f in crm.fields if f in clash}
    fields = fields.rename(columns=renamed)
    names = [renamed.get(f, f) for f in crm.fields]
    notes = list(crm.notes)
    if renamed:
        notes.append(
            "CRM fields named like behaviour features were renamed: "
            + ", ".join(f"{a} → {b}" for a, b in renamed.items())
        )
    ids = features[ID].astype("string")
    matched = ids.isin(fields[ID])
    if crm.time_column is not None:
        never = ids.isin(crm.leads) & ~matched
        if never.any():
            notes.append(
                f"{int(never.sum()):,} leads' CRM rows are all later than their cutoff "
                f"({crm.time_column}): their CRM fields are left empty"
            )
    without = ~ids.isin(crm.leads)
    if without.any():
        notes.append(f"{int(without.sum()):,} leads have no CRM row: their CRM fields are empty")
    joined = features.merge(fields, on=ID, how="left")
    return joined, names, notes
