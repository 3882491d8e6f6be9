"""The work queue as the Leads page draws it (no Streamlit here): who each lead is beside
its score, the key fields, the reasons in full and the link to its CRM record.

A table cell holds one line unless its rows are taller than 4rem (Streamlit then wraps
text), so :func:`reasons_row_height` makes the rows as tall as the longest reasons need
in the reasons column's width: nothing is cut off.

Example
-------
>>> queue = pd.DataFrame({"lead_id": ["L1"], "score_100": [80], "segment": ["hot"],
...     "top_reasons": ["Demo requested: yes → +12"], "name": ["Ana Lima"]})
>>> view, columns = queue_view(queue, {}, "https://crm.example.com/l/{lead_id}")
>>> columns
['lead_id', 'crm', 'who_name', 'score_100', 'segment', 'top_reasons']
>>> view["crm"].tolist()
['https://crm.example.com/l/L1']
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from leadscore.ui.frames import QUEUE_COLUMNS
from leadscore.ui.identity import QUEUE_COLUMNS as WHO
from leadscore.ui.identity import crm_link, with_identity

#: the reasons column's width on screen (pixels)
REASONS_WIDTH = 340
#: what a character of the table's font takes on average, and a wrapped line's height
#: (pixels; measured on the dashboard's font, with room to spare)
CHAR_WIDTH, LINE_HEIGHT = 7.0, 21
#: Streamlit wraps a cell's text only in rows taller than this (4rem)
WRAP_FROM = 64
#: a row of one line, as Streamlit draws it by default
ONE_LINE = 35


def attribute_columns(frame: pd.DataFrame) -> list[str]:
    """The work queue's columns that are the leads' own attributes."""
    return [str(c) for c in frame.columns if c not in QUEUE_COLUMNS]


def queue_view(
    frame: pd.DataFrame, keys: Mapping[str, str | None], crm_url: str | None
) -> tuple[pd.DataFrame, list[str]]:
    """The work queue with who each lead is (:data:`leadscore.ui.identity.QUEUE_COLUMNS`)
    and a ``crm`` link column (with ``crm_url``), and the columns a table of it shows:
    id, CRM link, name and company, score, segment, the sales override, the reasons,
    owner, the key fields, e-mail and phone.

    Parameters
    ----------
    frame:
        The work queue (:func:`leadscore.ui.frames.queue_frame`, filtered).
    keys:
        The key fields (:func:`leadscore.ui.frames.key_columns`).
    crm_url:
        ``[dashboard] crm_url`` (``None``: no link column).
    """
    view = with_identity(frame, attribute_columns(frame))
    who = [WHO[k] for k in ("name", "company") if WHO[k] in view.columns]
    after = [WHO[k] for k in ("owner", "email", "phone") if WHO[k] in view.columns]
    fields = [c for c in (keys.get(k) for k in ("source", "country", "device", "created")) if c]
    # a key field no lead shown has (only API leads sent it, say) is an empty column
    fields = [c for c in dict.fromkeys(fields) if view[c].notna().any()]
    pin = ["pin"] if "pin" in view.columns and view["pin"].astype(bool).any() else []
    link = []
    if crm_url:
        view["crm"] = [crm_link(crm_url, str(i)) for i in view["lead_id"]]
        link = ["crm"]
    # what a rep reads first, on the left: the lead (and its CRM record), who, how good,
    # why; then the rest
    columns = [
        "lead_id", *link, *who, "score_100", "segment", *pin, "top_reasons", *after[:1],
        *fields, *after[1:],
    ]  # fmt: skip
    return view, columns


def table_height(rows: int, row_height: int, most: int = 10) -> int:
    """A table's height (pixels) showing up to ``most`` rows of ``row_height`` at once.

    Example
    -------
    >>> table_height(3, 65), table_height(25, 35)
    (234, 389)
    """
    return 38 + min(max(rows, 1), most) * row_height + 1


def reasons_row_height(texts: pd.Series, width: int = REASONS_WIDTH) -> int:
    """The row height (pixels) at which the longest of ``texts`` fits, wrapped, in a
    column ``width`` pixels wide (at most four lines; one line needs no more than the
    default).

    Example
    -------
    >>> reasons_row_height(pd.Series(["short"])), reasons_row_height(pd.Series(["x" * 100]))
    (35, 79)
    """
    longest = int(texts.astype("string").fillna("").str.len().max()) if len(texts) else 0
    per_line = max(int((width - 16) / CHAR_WIDTH), 1)
    lines = min(max(math.ceil(longest / per_line), 1), 4)
    if lines == 1:
        return ONE_LINE
    return max(WRAP_FROM + 1, 16 + lines * LINE_HEIGHT)
