"""The team's capacity in the dashboard's work queue (no Streamlit here): the queue table
(with overrides applied, :mod:`leadscore.ui.override_frames`) marked with the period's
quota, as the API marks its work queue (:mod:`leadscore.live.capacity`).

* ``contact`` becomes the quota's: a lead holding one of the period's slots; a lead
  pinned ``hot`` is contacted and one pinned ``cold`` is not, whatever the quota;
* ``model_contact`` keeps the model's own decision;
* ``quota`` marks the rows for the tables (``✓ in today's quota``).

Example
-------
>>> from leadscore.config import CapacitySettings
>>> from leadscore.live.capacity import period_quota
>>> from leadscore.store import NewScore
>>> from leadscore.ui.frames import queue_frame
>>> from leadscore.ui.override_frames import with_overrides
>>> with store.scores.scoring(["L1", "L2", "L3"]) as writer:
...     _ = writer.add([NewScore("L1", "3", 0.9, 90, "hot", True),
...                     NewScore("L2", "3", 0.8, 80, "hot", True),
...                     NewScore("L3", "3", 0.1, 10, "cold", False)])
>>> quota = period_quota(store, CapacitySettings(per_period=1))
>>> frame = with_overrides(queue_frame(store.scores.queue()), {})
>>> with_quota(frame, quota)[["lead_id", "contact", "model_contact", "quota"]].values.tolist()
[['L1', True, True, '✓ in today’s quota'], ['L2', False, True, ''], ['L3', False, False, '']]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadscore.live.capacity import Quota

#: what the tables show for a lead holding a slot, by period
MARK = {"day": "✓ in today’s quota", "week": "✓ in this week’s quota"}


def quota_text(quota: Quota) -> tuple[str, str]:
    """The label and value of the quota's metric: ``("Contacts today", "2 / 3")``.

    Example
    -------
    >>> from datetime import datetime, UTC
    >>> quota_text(Quota(3, "day", datetime(2026, 3, 5, tzinfo=UTC), frozenset({"L1"}), 1))
    ('Contacts today', '1 / 3')
    """
    when = "today" if quota.period == "day" else "this week"
    return f"Contacts {when}", f"{quota.used:,} / {quota.limit:,}"


def with_quota(frame: pd.DataFrame, quota: Quota) -> pd.DataFrame:
    """The queue table with ``contact`` the quota's, ``model_contact`` the model's and the
    ``quota`` marker (see the module's notes)."""
    out = frame.copy()
    clash = {c: f"{c} (lead)" for c in ("model_contact", "quota") if c in out.columns}
    out = out.rename(columns=clash)  # an attribute named like one of ours
    within = out["lead_id"].isin(quota.contacted).to_numpy()
    segment = out["segment"].astype(object).to_numpy()
    overridden = (
        out["overridden"].to_numpy(dtype=bool)
        if "overridden" in out.columns
        else np.zeros(len(out), dtype=bool)
    )
    decided = overridden & np.isin(segment, ["hot", "cold", "exclude"])
    at = out.columns.get_loc("contact")
    model = out["contact"].to_numpy(dtype=bool)
    out["contact"] = np.where(decided, segment == "hot", within)
    out.insert(at + 1, "model_contact", model)
    marks = np.where(within, MARK[quota.period], "")
    out.insert(out.columns.get_loc("segment") + 1, "quota", marks)
    return out
