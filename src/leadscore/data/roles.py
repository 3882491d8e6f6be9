"""Column roles: which column is the outcome (and its values as 1/0), the lead id, the
creation time; and the roles ``leadscore features`` writes beside a lead table.

Left unset, the target is found by name (converted, won, target, …) and the id as a
column unique per row; a date column named like a creation time is pointed out. Columns
that say who the lead is — name, company, e-mail, phone, owner (:func:`identity_kind`) —
are identifiers too: shown to people (the work queue, the lead page), never model inputs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from leadscore.config import Roles
from leadscore.data.columns import file_rows, is_text, normalise_name, shown
from leadscore.errors import DataError, SchemaError

# Column names (normalised to lower_snake) that mean "the outcome", in order of preference.
TARGET_NAMES = (
    "converted", "is_converted", "conversion", "won", "is_won", "closed_won", "target",
    "label", "outcome", "y", "purchased", "sold", "signed_up", "is_customer",
)  # fmt: skip
_ID_NAME = re.compile(r"(^|_)(id|uuid|guid|key|number|no|nr|code)$")
_CREATED_NAME = re.compile(
    r"(created|creation|signup|sign_up|registered|captured|first_seen|^date$|^time)"
)
#: names (normalised to lower_snake, a ``crm_`` prefix allowed) of the fields that say
#: who a lead is, by kind: people read them to act on a lead; a model must not learn from
#: them (a name or an e-mail is one lead's, an owner is who worked it, not what it is)
IDENTITY_NAMES: dict[str, re.Pattern[str]] = {
    kind: re.compile(rf"(crm_)?({pattern})")
    for kind, pattern in {
        "name": r"(lead_|contact_|customer_|prospect_|person_|full_|first_|last_|given_|"
        r"family_)?name|surname",
        "company": r"company(_name)?|organi[sz]ation(_name)?|org_name|account_name|employer|"
        r"business_name",
        "email": r"(work_|business_|contact_)?e_?mail(_address)?",
        # not a bare "mobile": that is as often a yes/no device flag
        "phone": r"(phone|telephone)(_number)?|(mobile|cell)(_number|_phone)|tel",
        "owner": r"(lead_|account_|sales_)?owner(_name)?|sales_rep|rep|assigned_to|"
        r"account_manager|salesperson",
    }.items()
}


# ----------------------------------------------------------------------------- target


def coerce_target(
    series: pd.Series,
    positive_labels: Sequence[str],
    negative_labels: Sequence[str],
) -> np.ndarray:
    """Map an outcome column to 1.0 / 0.0 (NaN where missing).

    Accepts 1/0, yes/no, true/false, won/lost and the configured labels (case-insensitive).
    Anything else raises :class:`SchemaError` naming the column and the offending values.

    Example
    -------
    >>> coerce_target(pd.Series(["Yes", "no", None], name="converted"), ["yes"], ["no"])
    array([ 1.,  0., nan])
    """
    name = series.name
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float).to_numpy()
    positive = {str(v).strip().lower() for v in positive_labels}
    negative = {str(v).strip().lower() for v in negative_labels}
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.astype(float)
        present = values.dropna()
        bad = present[~present.isin([0.0, 1.0])]
        if not bad.empty:
            raise SchemaError(
                f"target column {name!r} must be 0/1, yes/no, true/false or won/lost; it also "
                f"holds {shown(sorted(bad.unique()))} at rows {file_rows(bad.index)}"
            )
        return values.to_numpy()
    text = series.astype(object).where(series.isna(), series.astype(str).str.strip().str.lower())
    text = text.mask(text == "")
    mapped = pd.Series(np.nan, index=series.index)
    mapped[text.isin(positive)] = 1.0
    mapped[text.isin(negative)] = 0.0
    bad = text.notna() & mapped.isna()
    if bad.any():
        offending = series[bad]
        raise SchemaError(
            f"target column {name!r} has values that are neither a conversion nor a loss: "
            f"{shown(offending.astype(str).unique())} at rows {file_rows(offending.index)}. "
            "Recognised: 1/0, yes/no, true/false, won/lost; add others with "
            "positive_labels / negative_labels in leadscore.toml."
        )
    return mapped.to_numpy()


# ----------------------------------------------------------------------------- roles


def infer_target(frame: pd.DataFrame) -> str | None:
    """Return the column whose name says it is the outcome (converted, won, target, …)."""
    by_name = {normalise_name(c): c for c in frame.columns}
    for candidate in TARGET_NAMES:
        if candidate in by_name:
            return by_name[candidate]
    return None


def identity_kind(name: str) -> str | None:
    """Which part of a lead's identity a column holds, by its name: ``name``,
    ``company``, ``email``, ``phone`` or ``owner`` (``None`` for any other column).

    Parameters
    ----------
    name:
        The column's name as the data spells it.

    Example
    -------
    >>> [identity_kind(c) for c in ("Full Name", "E-mail", "Lead Owner", "company_size")]
    ['name', 'email', 'owner', None]
    """
    normalised = normalise_name(name)
    return next((k for k, p in IDENTITY_NAMES.items() if p.fullmatch(normalised)), None)


def identity_columns(columns: Iterable[object]) -> dict[str, str]:
    """The columns among ``columns`` that say who a lead is, each with its
    :func:`identity_kind`, in the order given.

    Parameters
    ----------
    columns:
        Column names (a frame's columns, a lead's attribute names).

    Example
    -------
    >>> identity_columns(["lead_id", "first_name", "last_name", "company", "visits"])
    {'first_name': 'name', 'last_name': 'name', 'company': 'company'}
    """
    found = {str(c): identity_kind(str(c)) for c in columns}
    return {c: kind for c, kind in found.items() if kind is not None}


def _unique_id_like(series: pd.Series) -> bool:
    """Unique per row and either text or an integer column named like an id / number / key."""
    values = series.dropna()
    if len(values) < 2 or len(values) < len(series) or values.nunique() < len(values):
        return False
    if is_text(series):
        return True
    if pd.api.types.is_integer_dtype(series.dtype) or (
        pd.api.types.is_float_dtype(series.dtype) and bool((values == values.round()).all())
    ):
        return bool(_ID_NAME.search(normalise_name(str(series.name))))
    return False


def is_id_like(series: pd.Series) -> bool:
    """Whether a column identifies leads rather than describes them, and so is never a
    model input: unique per row and either text or an integer column named like an id /
    number / key, or a column saying who the lead is (:func:`identity_kind`: its name,
    company, e-mail, phone or owner — however many leads share a company or an owner).

    Parameters
    ----------
    series:
        The column, named.

    Example
    -------
    >>> is_id_like(pd.Series(["Acme", "Acme", "Initech"], name="company"))
    True
    >>> is_id_like(pd.Series(["Retail", "Retail", "Software"], name="industry"))
    False
    """
    return identity_kind(str(series.name)) is not None or _unique_id_like(series)


def identifier_reason(series: pd.Series) -> str:
    """Why :func:`is_id_like` sets a column apart, for the table's ``excluded`` reasons.

    Example
    -------
    >>> identifier_reason(pd.Series(["Maria Rossi", "Maria Rossi"], name="owner"))
    'identifier: who the lead is (owner), shown to people, never a model input'
    """
    kind = identity_kind(str(series.name))
    if kind is None:
        return "identifier: unique per row"
    return f"identifier: who the lead is ({kind}), shown to people, never a model input"


def infer_id(frame: pd.DataFrame, exclude: Iterable[str] = ()) -> str | None:
    """The first column unique per row, preferring one named like an id, then any but the
    identity fields; a name or an e-mail identifies a lead only when nothing else does,
    and a company, an owner or a phone never (leads share them, however few the rows)."""
    skip = set(exclude)
    candidates = [
        c
        for c in frame.columns
        if c not in skip
        and identity_kind(str(c)) not in ("company", "owner", "phone")
        and _unique_id_like(frame[c])
    ]
    named = [c for c in candidates if _ID_NAME.search(normalise_name(str(c)))]
    plain = [c for c in candidates if c not in named and identity_kind(str(c)) is None]
    ordered = named + plain + [c for c in candidates if c not in named and c not in plain]
    return ordered[0] if ordered else None


def looks_like_creation_time(name: str) -> bool:
    """Whether a column's name says it holds when the lead was created (created_at, …)."""
    return bool(_CREATED_NAME.search(normalise_name(name)))


# ----------------------------------------------------------------------------- sidecar


def sidecar_path(table_path: Path) -> Path:
    """Where ``leadscore features`` describes a lead table it wrote: ``<stem>.features.json``."""
    return table_path.with_name(table_path.name.split(".")[0] + ".features.json")


def sidecar_roles(table_path: Path) -> Roles | None:
    """Roles written next to a lead table by ``leadscore features``, if any."""
    path = sidecar_path(table_path)
    if not path.is_file():
        return None
    try:
        described = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    return Roles(
        target=described.get("target"),
        id=described.get("id"),
        point_in_time=list(described.get("point_in_time", [])),
        weight=described.get("weight"),
    )
