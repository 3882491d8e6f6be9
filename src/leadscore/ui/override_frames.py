"""Sales overrides in the dashboard's work queue (no Streamlit here): the queue table of
:func:`leadscore.ui.frames.queue_frame` with each lead's override in force applied, as the
API's work queue applies it (:mod:`leadscore.live.overrides`).

* ``segment`` becomes the override's; the model's stays in ``model_segment``;
* ``overridden``, ``override_reason``, ``override_author``, ``override_until`` (UTC) say
  which override, and ``pin`` marks the row for the tables (``📌 hot · model: cold``);
* excluded leads leave the queue;
* with overrides in force the queue lists hot, then warm, then cold, each with the leads
  pinned there first (in the order they were pinned), then the rest best first.

Example
-------
>>> from leadscore.store import NewScore
>>> from leadscore.ui.frames import queue_frame
>>> with store.scores.scoring(["L1", "L2", "L3"]) as writer:
...     _ = writer.add([NewScore("L1", "3", 0.9, 90, "hot", True),
...                     NewScore("L2", "3", 0.4, 40, "warm", True),
...                     NewScore("L3", "3", 0.1, 10, "cold", False)])
>>> _ = store.overrides.set("L3", "hot", "VIP referral", "maria")
>>> _ = store.overrides.set("L1", "exclude", "existing customer", "maria")
>>> frame = with_overrides(queue_frame(store.scores.queue()), store.overrides.active())
>>> frame[["lead_id", "segment", "model_segment", "pin"]].values.tolist()
[['L3', 'hot', 'cold', '📌 hot · model: cold'], ['L2', 'warm', 'warm', '']]
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from leadscore.store import OverrideRecord

#: the columns added after ``segment`` (``pin``: the tables' marker, not exported)
OVERRIDE_COLUMNS = (
    "pin", "model_segment", "overridden", "override_reason", "override_author",
    "override_until",
)  # fmt: skip
#: the order of the whole queue when overrides are in force
ORDER = ("hot", "warm", "cold")


def with_overrides(frame: pd.DataFrame, active: Mapping[str, OverrideRecord]) -> pd.DataFrame:
    """The queue table with the overrides in force (``active``, by lead) applied; the
    override columns are there (empty) when none is."""
    out = frame.copy()
    clash = {c: f"{c} (lead)" for c in OVERRIDE_COLUMNS if c in out.columns}
    out = out.rename(columns=clash)  # an attribute named like one of ours
    pins = [active.get(lead_id) for lead_id in out["lead_id"]]
    model = out["segment"].astype(object)
    at = out.columns.get_loc("segment") + 1
    values = {
        "pin": [
            "" if o is None else f"📌 {o.segment} · model: {m}"
            for o, m in zip(pins, model, strict=True)
        ],
        "model_segment": model.to_numpy(),
        "overridden": np.array([o is not None for o in pins], dtype=bool),
        "override_reason": [None if o is None else o.reason for o in pins],
        "override_author": [None if o is None else o.author for o in pins],
        "override_until": pd.to_datetime([None if o is None else o.until for o in pins], utc=True),
    }
    for offset, name in enumerate(OVERRIDE_COLUMNS):
        out.insert(at + offset, name, values[name])
    if not any(o is not None for o in pins):
        return out
    out["segment"] = [m if o is None else o.segment for o, m in zip(pins, model, strict=True)]
    keep = out["segment"] != "exclude"
    rank = out["segment"].map({s: i for i, s in enumerate(ORDER)}).fillna(len(ORDER))
    pinned = np.array([0 if o is not None else 1 for o in pins])
    within = np.array([o.id if o is not None else i for i, o in enumerate(pins)])
    order = np.lexsort((within, pinned, rank.to_numpy()))
    return out.iloc[order].loc[keep.iloc[order].to_numpy()].reset_index(drop=True)
