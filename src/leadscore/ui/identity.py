"""Who a lead is, for the people who act on it: the identity fields the data has — name,
company, e-mail, phone, owner; never model inputs
(:func:`leadscore.data.roles.identity_kind`) — and the link to the lead's record in the
CRM (``[dashboard] crm_url``).

Example
-------
>>> who = identity_of({"first_name": "Maria", "last_name": "Rossi", "owner": "Ben", "visits": 3})
>>> who.name, who.owner, who.items()
('Maria Rossi', 'Ben', [('Name', 'Maria Rossi'), ('Owner', 'Ben')])
>>> crm_link("https://crm.example.com/leads/{lead_id}", "L 7/8")
'https://crm.example.com/leads/L%207%2F8'
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

from leadscore.data.roles import identity_columns

#: how the dashboard heads each kind of identity field, in the order it shows them
LABELS: dict[str, str] = {
    "name": "Name",
    "company": "Company",
    "email": "E-mail",
    "phone": "Phone",
    "owner": "Owner",
}
#: the work queue's columns of who each lead is (kept apart from the leads' attributes,
#: which may use the same names)
QUEUE_COLUMNS: dict[str, str] = {kind: f"who_{kind}" for kind in LABELS}


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


@dataclass(frozen=True)
class Identity:
    """A lead's identity fields (``None`` where the data has none)."""

    name: str | None = None
    company: str | None = None
    email: str | None = None
    phone: str | None = None
    owner: str | None = None

    def items(self) -> list[tuple[str, str]]:
        """``(label, value)`` of every field the lead has, in :data:`LABELS` order."""
        found = ((LABELS[f.name], getattr(self, f.name)) for f in fields(self))
        return [(label, value) for label, value in found if value]


def identity_of(attributes: Mapping[str, Any]) -> Identity:
    """A lead's identity from its attributes; several name columns (first and last
    name) are joined in the order the data has them.

    Parameters
    ----------
    attributes:
        The lead's stored attributes.

    Example
    -------
    >>> identity_of({"Company": "Acme", "E-mail": "ana@acme.example"}).email
    'ana@acme.example'
    """
    parts: dict[str, list[str]] = {kind: [] for kind in LABELS}
    for column, kind in identity_columns(attributes).items():
        value = _text(attributes[column])
        if value:
            parts[kind].append(value)
    return Identity(**{kind: " ".join(values) or None for kind, values in parts.items()})


def with_identity(frame: pd.DataFrame, attributes: list[str]) -> pd.DataFrame:
    """``frame`` (the work queue) with a :data:`QUEUE_COLUMNS` column per kind of identity
    field among ``attributes`` (its attribute columns), name columns joined.

    Parameters
    ----------
    frame:
        The work queue (:func:`leadscore.ui.frames.queue_frame`).
    attributes:
        Which of its columns are the leads' attributes.

    Example
    -------
    >>> queue = pd.DataFrame({"lead_id": ["L1"], "owner": ["Ben"], "company": [None]})
    >>> with_identity(queue, ["owner", "company"])[["who_company", "who_owner"]].iloc[0].tolist()
    [None, 'Ben']
    """
    found = identity_columns(attributes)
    out = frame.copy()
    for kind in dict.fromkeys(found.values()):
        columns = [c for c, k in found.items() if k == kind]
        texts = [[_text(v) for v in frame[c]] for c in columns]
        joined = [" ".join(v for v in values if v) or None for values in zip(*texts, strict=True)]
        out[QUEUE_COLUMNS[kind]] = pd.Series(joined, index=frame.index, dtype=object)
    return out


def crm_link(template: str | None, lead_id: str) -> str | None:
    """The lead's CRM record: ``template`` (``[dashboard] crm_url``) with ``{lead_id}``
    replaced by the id, URL-encoded; ``None`` without a template.

    Parameters
    ----------
    template:
        E.g. ``https://crm.example.com/leads/{lead_id}``.
    lead_id:
        The lead's id.

    Example
    -------
    >>> crm_link(None, "L1") is None
    True
    """
    if not template:
        return None
    return template.format(lead_id=urllib.parse.quote(str(lead_id), safe=""))
