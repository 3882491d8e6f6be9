"""A raw export made ready for modelling: :func:`prepare_table` gives a :class:`LeadTable`.

Placeholder values ("Select", empty strings) become missing, numbers stored as text
become numbers, dates become datetimes, the target becomes 0/1, and the id, target, time
and excluded columns are set apart, as are columns that carry no information (all
missing, constant, unique per row), each with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from leadscore.config import Roles, Settings
from leadscore.data.columns import (
    ColumnKind,
    file_rows,
    missing_column_error,
    shown,
    standardise_column,
)
from leadscore.data.roles import (
    coerce_target,
    identifier_reason,
    infer_id,
    infer_target,
    is_id_like,
    looks_like_creation_time,
    sidecar_roles,
)
from leadscore.data.sources import TableLike, read_table
from leadscore.errors import DataError, SchemaError


@dataclass
class LeadTable:
    """A lead table ready for modelling.

    Attributes
    ----------
    features:
        Candidate model inputs, cleaned and typed (numeric float, categorical object,
        datetime naive UTC). Excluded, id and target columns are not in it.
    y:
        The outcome as 0/1 integers, or ``None`` for an unlabelled table.
    ids:
        The lead identifier (as text) for every row.
    time:
        When each lead was created, if a time column is known.
    roles:
        The resolved column roles.
    excluded:
        Columns set aside, each with the reason.
    notes:
        What was done to the data that a person should know.
    weights:
        Each lead's sample weight, from the ``weight`` role's column (never a feature), or
        ``None``.
    """

    features: pd.DataFrame
    y: np.ndarray | None
    ids: pd.Series
    time: pd.Series | None
    roles: Roles
    kinds: dict[str, ColumnKind]
    excluded: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    raw_columns: list[str] = field(default_factory=list)
    weights: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        return len(self.features)

    @property
    def positive_rate(self) -> float:
        if self.y is None:
            raise DataError("this table has no target")
        return float(np.mean(self.y))

    def without(self, columns: dict[str, str]) -> LeadTable:
        """A copy with ``columns`` (name → reason) moved from the features to ``excluded``."""
        drop = [c for c in columns if c in self.features.columns]
        excluded = dict(self.excluded)
        excluded.update({c: columns[c] for c in drop})
        return LeadTable(
            features=self.features.drop(columns=drop),
            y=self.y,
            ids=self.ids,
            time=self.time,
            roles=self.roles,
            kinds={k: v for k, v in self.kinds.items() if k not in drop},
            excluded=excluded,
            notes=list(self.notes),
            raw_columns=self.raw_columns,
            weights=self.weights,
        )

    def subset(self, rows: np.ndarray) -> LeadTable:
        """A copy with only the given row positions."""
        return LeadTable(
            features=self.features.iloc[rows],
            y=None if self.y is None else self.y[rows],
            ids=self.ids.iloc[rows],
            time=None if self.time is None else self.time.iloc[rows],
            roles=self.roles,
            kinds=dict(self.kinds),
            excluded=dict(self.excluded),
            notes=list(self.notes),
            raw_columns=self.raw_columns,
            weights=None if self.weights is None else self.weights[rows],
        )


def _check_named(frame: pd.DataFrame, names: Iterable[str | None], what: str) -> None:
    missing = [n for n in names if n is not None and n not in frame.columns]
    if missing:
        raise SchemaError(missing_column_error(missing, list(frame.columns), what))


def prepare_table(
    data: TableLike,
    roles: Roles | None = None,
    settings: Settings | None = None,
    *,
    require_target: bool = True,
) -> LeadTable:
    """Read and clean a lead table; resolve roles; set apart unusable columns.

    Parameters
    ----------
    data:
        Path of a CSV/Parquet file, or a DataFrame.
    roles:
        Column roles; unset ones are inferred. Defaults to ``settings.roles``.
    settings:
        Project settings (placeholders, target labels, number handling).
    require_target:
        Training needs a target with both classes; scoring does not.

    Example
    -------
    >>> leads.to_csv("leads.csv", index=False)
    >>> table = prepare_table("leads.csv", Roles(target="converted"))
    >>> table.features.shape, round(table.positive_rate, 3), table.excluded
    ((300, 12), 0.083, {'converted': 'target', 'lead_id': 'lead id'})
    """
    settings = settings or Settings()
    roles = roles or settings.roles
    if isinstance(data, (str, Path)):
        described = sidecar_roles(Path(data))
        if described is not None:
            roles = described.merged(**roles.model_dump())
    frame = read_table(data).copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise SchemaError(f"duplicate column names: {shown(duplicated)}")
    frame = frame.reset_index(drop=True)
    notes: list[str] = []
    if frame.shape[1] == 1 and require_target:
        only = frame.columns[0]
        hint = ""
        if any(d in only for d in ",;\t|"):
            hint = " The header looks like several names joined by a delimiter."
        raise DataError(f"the table has a single column {only!r}; expected several.{hint}")

    _check_named(frame, [roles.target, roles.id, roles.time, roles.weight], "role")
    _check_named(frame, roles.exclude, "excluded")
    _check_named(frame, roles.keep, "kept")

    target = roles.target
    if target is None and require_target:
        target = infer_target(frame)
        if target is None:
            raise SchemaError(
                "no target column given and none found by name (converted, won, target, …). "
                f"Pass --target COLUMN. Columns in the data: {list(frame.columns)}"
            )
        notes.append(f"target column inferred: {target!r}")
    elif target is None:
        target = infer_target(frame)

    y: np.ndarray | None = None
    if target is not None and target in frame.columns:
        y_all = coerce_target(frame[target], settings.positive_labels, settings.negative_labels)
        unlabelled = np.isnan(y_all)
        if require_target:
            if unlabelled.all():
                raise SchemaError(f"target column {target!r} is empty: no row has an outcome")
            if unlabelled.any():
                notes.append(
                    f"{int(unlabelled.sum()):,} rows have no outcome in {target!r} yet and were "
                    "left out"
                )
                # keep the original index so later messages still name the file's rows
                frame = frame.loc[~unlabelled]
                y_all = y_all[~unlabelled]
            classes = np.unique(y_all)
            if len(classes) < 2:
                only = "converted" if classes[0] == 1 else "not converted"
                raise SchemaError(
                    f"target column {target!r} has one class only: all {len(y_all):,} leads "
                    f"are {only}. A model needs examples of both outcomes."
                )
            y = y_all.astype(np.int8)
    elif require_target:
        raise SchemaError(missing_column_error([str(target)], list(frame.columns), "target"))

    excluded: dict[str, str] = {name: "excluded by you" for name in roles.exclude}
    if target is not None and target in frame.columns:
        excluded[target] = "target"
    if roles.id is not None:
        excluded[roles.id] = "lead id"
    if roles.weight is not None:
        excluded[roles.weight] = "sample weight"

    # Type every column first: whether a column is an id depends on its type (numbers
    # stored as text are not ids, dates never are).
    typed: dict[str, pd.Series] = {}
    kinds: dict[str, ColumnKind] = {}
    for name in frame.columns:
        if name in excluded:
            continue
        column, kind, note = standardise_column(
            frame[name], settings.missing_values, settings.on_bad_number
        )
        if note:
            notes.append(note)
        typed[name], kinds[name] = column, kind

    id_col = roles.id
    if id_col is None:
        id_col = infer_id(
            pd.DataFrame(typed), exclude=[c for c, k in kinds.items() if k == "datetime"]
        )
        if id_col is not None:
            notes.append(f"id column inferred: {id_col!r}")
            excluded[id_col] = "lead id"
    if id_col is not None:
        ids = frame[id_col].astype(str)
    else:
        ids = pd.Series([str(i + 1) for i in range(len(frame))], name="row")
        notes.append("no id column found: leads are identified by their row number")

    features: dict[str, pd.Series] = {}
    for name, column in typed.items():
        if name in excluded:
            continue
        kept = name in roles.keep
        present = column.dropna()
        if present.empty and not kept:
            excluded[name] = "all values missing"
            continue
        # One value everywhere is no information; one value or blank is a yes/no flag.
        if column.nunique(dropna=False) <= 1 and not kept:
            excluded[name] = "constant: a single value"
            continue
        if kinds[name] != "datetime" and is_id_like(column) and not kept:
            excluded[name] = identifier_reason(column)
            continue
        features[name] = column
    kinds = {name: kinds[name] for name in features}

    time = None
    if roles.time is None:
        created = [c for c, k in kinds.items() if k == "datetime" and looks_like_creation_time(c)]
        if created:
            notes.append(
                f"{created[0]!r} looks like the lead creation time: pass --time {created[0]!r} "
                "to validate on the most recent leads (train on the past, test on the future)"
            )
    if roles.time is not None:
        if kinds.get(roles.time) != "datetime":
            raise SchemaError(
                f"time column {roles.time!r} must hold dates or timestamps, e.g. 2026-01-31 "
                "or 2026-01-31T14:05:00Z"
            )
        time = features[roles.time]
        if time.isna().any():
            raise SchemaError(
                f"time column {roles.time!r} is empty in {int(time.isna().sum())} rows "
                f"(rows {file_rows(time[time.isna()].index)}); every lead needs a creation time"
            )

    if not features:
        set_apart = ", ".join(f"{k} ({v})" for k, v in excluded.items())
        if target is None or target not in frame.columns:
            # the likelier first fix: a table to learn from needs its outcome
            raise SchemaError(
                "no outcome column: none is named like one (converted, won, target, …) or "
                "given as the target; and no usable feature columns remain after setting "
                f"apart: {set_apart}"
            )
        raise SchemaError(f"no usable feature columns remain after setting apart: {set_apart}")
    resolved = roles.model_copy(update={"target": target, "id": id_col})
    weights = None if roles.weight is None else _weights(frame[roles.weight])
    return LeadTable(
        features=pd.DataFrame(features).reset_index(drop=True),
        y=y,
        ids=ids.reset_index(drop=True),
        time=None if time is None else time.reset_index(drop=True),
        roles=resolved,
        kinds=kinds,
        excluded=excluded,
        notes=notes,
        raw_columns=list(frame.columns),
        weights=weights,
    )


def _weights(column: pd.Series) -> np.ndarray:
    """The weight role's column as finite weights of zero or more (an error naming the
    column and its first bad rows otherwise)."""
    values = pd.to_numeric(column, errors="coerce").astype(float)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise SchemaError(
            f"weight column {column.name!r} must hold numbers of zero or more; rows "
            f"{file_rows(values[bad].index)} do not ({shown(column[bad].astype(str).unique())})"
        )
    return values.to_numpy()
