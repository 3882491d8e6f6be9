"""Column roles, type inference and validation of lead tables.

A raw export becomes a :class:`LeadTable` in :func:`prepare_table`: placeholder values
("Select", empty strings) become missing, numbers stored as text become numbers, dates
become datetimes, the target becomes 0/1, and the id, target, time and excluded
columns are set apart. At scoring time :class:`InputSchema` checks a new table against
what the model was trained on and conforms its types the same way.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from leadscore.config import DEFAULT_MISSING_VALUES, Roles, Settings
from leadscore.data.sources import TableLike, read_table
from leadscore.errors import DataError, SchemaError

ColumnKind = Literal["numeric", "categorical", "datetime"]

# Column names (normalised to lower_snake) that mean "the outcome", in order of preference.
TARGET_NAMES = (
    "converted", "is_converted", "conversion", "won", "is_won", "closed_won", "target",
    "label", "outcome", "y", "purchased", "sold", "signed_up", "is_customer",
)  # fmt: skip
_ID_NAME = re.compile(r"(^|_)(id|uuid|guid|key|number|no|nr|code)$")
_CREATED_NAME = re.compile(
    r"(created|creation|signup|sign_up|registered|captured|first_seen|^date$|^time)"
)
_DATE_PATTERNS = (
    re.compile(
        r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
    ),
    re.compile(r"^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}( \d{1,2}:\d{2}(:\d{2})?( ?[AaPp][Mm])?)?$"),
)
#: a text column whose non-missing values are at least this share numbers is "numeric with junk"
_MOSTLY_NUMERIC = 0.9
_MAX_SHOWN = 5


def normalise_name(name: str) -> str:
    """``"Prospect ID"`` → ``"prospect_id"``: lower case, runs of non-alphanumerics → ``_``."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")


def _is_text(series: pd.Series) -> bool:
    return series.dtype == object or pd.api.types.is_string_dtype(series.dtype)


def _show(values: Iterable[Any]) -> str:
    values = [v.item() if isinstance(v, np.generic) else v for v in values]
    shown = ", ".join(repr(v) for v in values[:_MAX_SHOWN])
    return shown + (f", … ({len(values) - _MAX_SHOWN} more)" if len(values) > _MAX_SHOWN else "")


def _rows(index: Iterable[Any]) -> str:
    """File row numbers for error messages: data row i is line i + 2 of a CSV with a header."""
    rows = [int(i) + 2 if isinstance(i, (int, np.integer)) else i for i in index]
    return _show(rows)


def missing_column_error(missing: Sequence[str], available: Sequence[str], what: str) -> str:
    """A message naming missing columns, with close matches among the available ones."""
    parts = []
    for name in missing:
        close = difflib.get_close_matches(str(name), [str(a) for a in available], n=2)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        parts.append(f"{name!r}{hint}")
    return (
        f"{what} {'column' if len(missing) == 1 else 'columns'} not found: {', '.join(parts)}. "
        f"Columns in the data: {_show(available) if len(available) > 12 else list(available)}"
    )


# ----------------------------------------------------------------------------- cleaning


def clean_text(series: pd.Series, missing_values: Sequence[str]) -> pd.Series:
    """Strip whitespace and turn placeholder strings into missing values."""
    stripped = series.astype(object).where(series.isna(), series.astype(str).str.strip())
    return stripped.mask(stripped.isin(list(missing_values)))


def _looks_like_dates(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(500)
    if sample.empty:
        return False
    hits = sum(any(p.match(v) for p in _DATE_PATTERNS) for v in sample)
    return hits >= 0.95 * len(sample)


def to_datetime(series: pd.Series) -> pd.Series:
    """Parse to naive UTC datetimes; unparsable values become NaT."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        parsed = series
    else:
        text = series.astype(str).where(series.notna())
        iso = text.dropna().head(50).str.match(_DATE_PATTERNS[0]).all()
        parsed = pd.to_datetime(
            text, errors="coerce", utc=True, format="ISO8601" if iso else "mixed"
        )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


def standardise_column(
    series: pd.Series,
    missing_values: Sequence[str],
    on_bad_number: Literal["error", "missing"] = "error",
) -> tuple[pd.Series, ColumnKind, str | None]:
    """Give one column its type. Returns ``(column, kind, note)``.

    Raises :class:`SchemaError` for a text column that is mostly numbers with a few
    non-numbers, unless ``on_bad_number="missing"`` (then they become missing, noted).
    """
    name = series.name
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float), "numeric", None
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.astype(float), "numeric", None
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return to_datetime(series), "datetime", None
    if not _is_text(series):
        return clean_text(series.astype(str), missing_values), "categorical", None

    text = clean_text(series, missing_values)
    present = text.notna()
    n_present = int(present.sum())
    if n_present == 0:
        return text, "categorical", None
    numbers = pd.to_numeric(text, errors="coerce")
    bad = present & numbers.isna()
    n_bad = int(bad.sum())
    if n_bad == 0:
        return numbers.astype(float), "numeric", None
    if n_present - n_bad >= _MOSTLY_NUMERIC * n_present:
        bad_values = text[bad]
        detail = (
            f"column {name!r} holds numbers, but {n_bad} of its {n_present} values are not "
            f"numbers: {_show(bad_values.unique())} at rows {_rows(bad_values.index)}"
        )
        if on_bad_number == "error":
            raise SchemaError(
                f"{detail}. Fix those values, exclude the column (--exclude {name!r}), or "
                "treat them as missing (--bad-numbers missing)."
            )
        return numbers.astype(float), "numeric", detail + "; they were treated as missing"
    if _looks_like_dates(text):
        parsed = to_datetime(text)
        unparsed = present & parsed.isna()
        if unparsed.sum() <= 0.05 * n_present:
            note = None
            if unparsed.any():
                note = (
                    f"column {name!r}: {int(unparsed.sum())} values are not dates "
                    f"({_show(text[unparsed].unique())}); treated as missing"
                )
            return parsed, "datetime", note
    return text, "categorical", None


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
                f"holds {_show(sorted(bad.unique()))} at rows {_rows(bad.index)}"
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
            f"{_show(offending.astype(str).unique())} at rows {_rows(offending.index)}. "
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


def is_id_like(series: pd.Series) -> bool:
    """Unique per row and either text or an integer column named like an id / number / key."""
    values = series.dropna()
    if len(values) < 2 or len(values) < len(series) or values.nunique() < len(values):
        return False
    if _is_text(series):
        return True
    if pd.api.types.is_integer_dtype(series.dtype) or (
        pd.api.types.is_float_dtype(series.dtype) and bool((values == values.round()).all())
    ):
        return bool(_ID_NAME.search(normalise_name(str(series.name))))
    return False


def infer_id(frame: pd.DataFrame, exclude: Iterable[str] = ()) -> str | None:
    """The first id-like column, preferring one named like an id."""
    skip = set(exclude)
    candidates = [c for c in frame.columns if c not in skip and is_id_like(frame[c])]
    named = [c for c in candidates if _ID_NAME.search(normalise_name(str(c)))]
    ordered = named + [c for c in candidates if c not in named]
    return ordered[0] if ordered else None


# ----------------------------------------------------------------------------- schema


@dataclass
class ColumnSpec:
    """One model input column: its name, kind and (for categories) the levels seen."""

    name: str
    kind: ColumnKind
    categories: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "categories": self.categories}


@dataclass
class InputSchema:
    """The columns a model expects, with their kinds; validates and conforms new data.

    Example
    -------
    >>> schema = InputSchema.from_frame(pd.DataFrame({"visits": [1.0, 2.0], "src": ["a", "b"]}))
    >>> schema.conform(pd.DataFrame({"src": ["c"], "visits": ["3"], "extra": [0]})).dtypes.tolist()
    [dtype('float64'), dtype('O')]
    """

    columns: list[ColumnSpec]
    missing_values: list[str] = field(default_factory=list)

    _MAX_CATEGORIES_KEPT = 500

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, missing_values: Sequence[str] = DEFAULT_MISSING_VALUES
    ) -> InputSchema:
        specs = []
        for name in frame.columns:
            series = frame[name]
            if pd.api.types.is_datetime64_any_dtype(series.dtype):
                specs.append(ColumnSpec(str(name), "datetime"))
            elif pd.api.types.is_numeric_dtype(series.dtype):
                specs.append(ColumnSpec(str(name), "numeric"))
            else:
                levels = series.dropna().astype(str).value_counts().index.tolist()
                specs.append(
                    ColumnSpec(str(name), "categorical", levels[: cls._MAX_CATEGORIES_KEPT])
                )
        return cls(specs, list(missing_values))

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def of_kind(self, kind: ColumnKind) -> list[str]:
        return [c.name for c in self.columns if c.kind == kind]

    def conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Select the model's columns in order and give them the training types.

        Raises :class:`SchemaError` naming every missing column, or a column whose values
        cannot be read as its training type (text in a numeric column, non-dates).
        Extra columns are ignored; unseen categories are kept (the model handles them).
        """
        missing = [c for c in self.names if c not in frame.columns]
        if missing:
            raise SchemaError(
                missing_column_error(missing, list(frame.columns), "required")
                + ". The model was trained with these columns; add them (empty values are"
                " allowed) or retrain without them."
            )
        out = {}
        for spec in self.columns:
            series = frame[spec.name]
            if _is_text(series) or series.dtype == object:
                series = clean_text(series, self.missing_values)
            if spec.kind == "numeric":
                out[spec.name] = self._to_number(series, spec.name)
            elif spec.kind == "datetime":
                parsed = to_datetime(series)
                bad = series.notna() & parsed.isna()
                if bad.any():
                    shown = _show(series[bad].astype(str).unique())
                    raise SchemaError(
                        f"column {spec.name!r} must hold dates, but has {shown} "
                        f"at rows {_rows(series[bad].index)}"
                    )
                out[spec.name] = parsed
            else:
                text = series.astype(object)
                out[spec.name] = text.where(text.isna(), text.astype(str))
        return pd.DataFrame(out, index=frame.index)

    @staticmethod
    def _to_number(series: pd.Series, name: str) -> pd.Series:
        if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
            return series.astype(float)
        numbers = pd.to_numeric(series, errors="coerce")
        bad = series.notna() & numbers.isna()
        if bad.any():
            raise SchemaError(
                f"column {name!r} must hold numbers, but has "
                f"{_show(series[bad].astype(str).unique())} at rows {_rows(series[bad].index)}"
            )
        return numbers.astype(float)

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [c.to_dict() for c in self.columns],
            "missing_values": self.missing_values,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSchema:
        return cls([ColumnSpec(**c) for c in data["columns"]], list(data.get("missing_values", [])))


# ----------------------------------------------------------------------------- lead table


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
        )


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
    >>> table = prepare_table("leads.csv", Roles(target="converted"))  # doctest: +SKIP
    >>> table.features.shape, table.positive_rate  # doctest: +SKIP
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
        raise SchemaError(f"duplicate column names: {_show(duplicated)}")
    frame = frame.reset_index(drop=True)
    notes: list[str] = []
    if frame.shape[1] == 1 and require_target:
        only = frame.columns[0]
        hint = ""
        if any(d in only for d in ",;\t|"):
            hint = " The header looks like several names joined by a delimiter."
        raise DataError(f"the table has a single column {only!r}; expected several.{hint}")

    _check_named(frame, [roles.target, roles.id, roles.time], "role")
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
        guess = infer_target(frame)
        target = guess if guess is not None else None

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
            excluded[name] = "identifier: unique per row"
            continue
        features[name] = column
    kinds = {name: kinds[name] for name in features}

    time = None
    if roles.time is None:
        created = [
            c
            for c, k in kinds.items()
            if k == "datetime" and _CREATED_NAME.search(normalise_name(c))
        ]
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
                f"(rows {_rows(time[time.isna()].index)}); every lead needs a creation time"
            )

    if not features:
        raise SchemaError(
            "no usable feature columns remain after setting apart: "
            + ", ".join(f"{k} ({v})" for k, v in excluded.items())
        )
    resolved = roles.model_copy(update={"target": target, "id": id_col})
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
    )
