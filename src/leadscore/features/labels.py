"""Outcomes for training: who converted, and when — the point in time of each lead.

Outcomes come either from a CRM file (lead id, converted yes/no, and when it converted or
was marked lost) or from the events themselves: the leads are those who did a lead event
(e.g. filled the e-mail pop-up) and the converted ones those who later did a conversion
event (e.g. completed a checkout). Either way each lead gets a cutoff: its features may
only use events strictly before it.
"""

from __future__ import annotations

import pandas as pd

from leadscore.config import Settings
from leadscore.data.columns import normalise_name, to_datetime
from leadscore.data.roles import coerce_target, infer_target
from leadscore.data.sources import TableLike, read_table
from leadscore.errors import DataError, SchemaError

#: names an outcome-time column goes by (normalised), and a lead id column
OUTCOME_TIME_NAMES = (
    "outcome_at", "outcome_time", "closed_at", "close_date", "converted_at", "conversion_time",
    "won_at", "lost_at", "resolved_at", "decided_at", "status_changed_at",
)  # fmt: skip
ID_NAMES = ("lead_id", "distinct_id", "client_id", "user_id", "id", "lead", "email")


def read_outcomes(
    source: TableLike,
    *,
    id_column: str | None = None,
    target: str | None = None,
    time_column: str | None = None,
    settings: Settings | None = None,
    keep_latest: bool = False,
) -> pd.DataFrame:
    """Outcomes as ``lead_id``, ``converted`` (0/1) and ``outcome_at`` (may be missing).

    Columns are found by name when not given (lead_id / distinct_id …, converted / won …,
    outcome_at / closed_at …). A lead listed more than once is an error, unless
    ``keep_latest``: then its row with the latest outcome time counts (the last one in
    the file among equal or missing times), as in a CRM export with a row per change.
    """
    settings = settings or Settings()
    frame = read_table(source)
    by_name = {normalise_name(c): c for c in frame.columns}
    id_column = id_column or next((by_name[n] for n in ID_NAMES if n in by_name), None)
    target = target or infer_target(frame)
    if time_column is None:
        time_column = next((by_name[n] for n in OUTCOME_TIME_NAMES if n in by_name), None)
    for role, name in (("lead id", id_column), ("outcome", target)):
        if name is None or name not in frame.columns:
            raise SchemaError(
                f"outcomes need a column for the {role}; none given or found by name. "
                f"Columns: {list(frame.columns)}"
            )
    y = coerce_target(frame[target], settings.positive_labels, settings.negative_labels)
    out = pd.DataFrame(
        {
            "lead_id": frame[id_column].astype("string"),
            "converted": y,
            "outcome_at": to_datetime(frame[time_column]) if time_column else pd.NaT,
        }
    )
    out = out.dropna(subset=["lead_id", "converted"])
    if keep_latest:
        out = out.sort_values("outcome_at", kind="stable", na_position="first")
        out = out.drop_duplicates("lead_id", keep="last").sort_index()
    if out["lead_id"].duplicated().any():
        dupes = out.loc[out["lead_id"].duplicated(), "lead_id"].head(5).tolist()
        raise SchemaError(f"outcomes list some leads more than once, e.g. {dupes}")
    out["converted"] = out["converted"].astype(int)
    return out.reset_index(drop=True)


def outcomes_from_events(
    events: pd.DataFrame,
    lead_event: str | None,
    conversion_event: str,
    cutoff: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Outcomes defined by events: converted = did ``conversion_event`` after ``lead_event``.

    The leads are those with a ``lead_event`` (all leads when it is ``None``). A
    converter's outcome time is its first conversion after becoming a lead; for the
    others it is ``cutoff`` (default: just after the last event in the data).
    """
    names = events["event"].astype("string")
    known = set(names.dropna().unique())
    for role, name in (("lead event", lead_event), ("conversion event", conversion_event)):
        if name is not None and name not in known:
            sample = sorted(known)[:12]
            raise DataError(f"{role} {name!r} does not occur in the events; events seen: {sample}")
    ts = pd.to_datetime(events["timestamp"])
    if lead_event is not None:
        became = ts[names == lead_event].groupby(events["lead_id"][names == lead_event]).min()
    else:
        became = ts.groupby(events["lead_id"]).min()
    conv = pd.DataFrame({"lead_id": events["lead_id"], "t": ts})[
        (names == conversion_event).to_numpy()
    ]
    conv = conv[conv["lead_id"].isin(became.index)]
    conv = conv[conv["t"].to_numpy() >= became.reindex(conv["lead_id"]).to_numpy()]
    first_conv = conv.groupby("lead_id")["t"].min()
    end = cutoff if cutoff is not None else ts.max() + pd.Timedelta(microseconds=1)
    out = pd.DataFrame({"lead_id": became.index.astype("string"), "lead_at": became.to_numpy()})
    out["converted"] = out["lead_id"].isin(first_conv.index).astype(int)
    out["outcome_at"] = out["lead_id"].map(first_conv).fillna(end)
    out["outcome_at"] = pd.to_datetime(out["outcome_at"])
    return out.reset_index(drop=True)


def cutoffs_for(outcomes: pd.DataFrame, cutoff: pd.Timestamp | None = None) -> pd.Series:
    """Per-lead time limit: the outcome time, capped by a global ``cutoff``."""
    limits = pd.to_datetime(outcomes["outcome_at"])
    if cutoff is not None:
        limits = limits.fillna(cutoff).clip(upper=cutoff)
    return pd.Series(limits.to_numpy(), index=outcomes["lead_id"].astype("string"))
