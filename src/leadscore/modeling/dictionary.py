"""A data dictionary: what each column means, as the people who keep the data wrote it.

Two uses. Its descriptions are evidence for the leakage audit
(:mod:`leadscore.modeling.leakage`): "Tags assigned to customers indicating the current
status of the lead" says the column is written by the team after the lead came in,
whatever its strength. And its optional columns say how reasons and findings word a field
(:mod:`leadscore.scoring.phrases`): ``label`` (what people call it), ``unit`` (``s``,
``min``, ``h``, ``days``, ``%`` or any word), ``actionable`` (``yes`` when sales can act
on it — visits, demo requests —, ``no`` for what they cannot change — country, device),
``levels`` (``code=words`` pairs separated by ``;``, e.g. ``1=Came back the same day;
0=Did not come back the same day`` or ``6=Enterprise``) and ``missing`` (what an empty
value means, e.g. ``No return visit yet``). A file with only the column name and its
description (like X Education's ``Leads_Data_Dictionary.csv``) works as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from leadscore.data.columns import normalise_name
from leadscore.errors import DataError

#: how a data dictionary describes a column that the team fills in, or that changes
#: after the lead was first recorded
_AFTER_OUTCOME_TEXT = re.compile(
    r"\b(assigned|allocated|given by|set by|entered by|filled (in )?by|updated by|"
    r"by (the |an? )?(sales|employee|agent|rep|representative|team|staff|counsel+or|caller|"
    r"operator|consultant)|sales (team|rep|representative|person|people|staff)|employee|"
    r"intuition|judge?ment|after (the |a |an )?(first )?(call|contact|conversation|meeting|"
    r"demo|conversion|purchase|sale|outcome|closing|follow)|follow[- ]?up|current status|"
    r"status of the (lead|deal|customer)|lead status|deal stage|outcome|result of|"
    r"disposition|last (notable )?(activity|contact|touch|interaction|action)|"
    r"most recent (activity|contact|touch)|closed|won|lost|tags?|tagged)\b",
    re.IGNORECASE,
)

#: the headers each column of a dictionary is recognised by (normalised names)
NAME_HEADERS = ("variable", "column", "column_name", "variable_name", "field", "feature", "name")
TEXT_HEADERS = ("description", "meaning", "definition", "details", "notes", "comment")
LABEL_HEADERS = ("label", "display_name", "display_label", "friendly_name", "shown_as")
UNIT_HEADERS = ("unit", "units")
ACTIONABLE_HEADERS = ("actionable", "sales_can_act", "can_act", "changeable")
LEVEL_HEADERS = ("levels", "level_labels", "value_labels")
MISSING_HEADERS = ("missing", "if_missing", "when_missing", "missing_means", "empty_means")

_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}


@dataclass(frozen=True)
class FieldEntry:
    """One column of a data dictionary; empty text and ``None`` mean "not said"."""

    name: str
    description: str = ""
    label: str = ""
    unit: str = ""
    actionable: bool | None = None
    levels: Mapping[str, str] = field(default_factory=dict)
    missing: str = ""

    def to_dict(self) -> dict[str, Any]:
        """What a model's metadata keeps of the entry: the parts that were said.

        Example
        -------
        >>> FieldEntry("visits", label="Visits", actionable=True).to_dict()
        {'label': 'Visits', 'actionable': True}
        """
        parts = {
            "description": self.description, "label": self.label, "unit": self.unit,
            "actionable": self.actionable, "levels": dict(self.levels), "missing": self.missing,
        }  # fmt: skip
        return {k: v for k, v in parts.items() if v not in ("", None, {})}


def parse_levels(text: str, where: str = "levels") -> dict[str, str]:
    """``"1=Came back the same day; 0=Did not"`` → ``{"1": "Came back the same day", "0":
    "Did not"}``; pairs separated by ``;`` (or ``|``), code and words by the first ``=``.

    Example
    -------
    >>> parse_levels("6=Enterprise | 1 = Small business")
    {'6': 'Enterprise', '1': 'Small business'}
    """
    levels: dict[str, str] = {}
    for item in re.split(r"[;|]", text or ""):
        if not item.strip():
            continue
        code, sep, words = item.partition("=")
        if not sep or not code.strip() or not words.strip():
            raise DataError(
                f"{where}: {item.strip()!r} is not a level: write code=words pairs separated "
                "by ';' (e.g. 1=Came back the same day; 0=Did not come back)"
            )
        levels[code.strip()] = words.strip()
    return levels


def _actionable(text: str, where: str) -> bool | None:
    value = text.strip().lower()
    if not value:
        return None
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise DataError(f"{where}: actionable must be yes or no (or empty), not {text.strip()!r}")


def _read_frame(source: Path) -> pd.DataFrame:
    if not source.is_file():
        raise DataError(f"data dictionary not found: {source}")
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            frame = pd.read_csv(source, dtype=str, keep_default_na=False, encoding=encoding)
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataError(f"cannot read the data dictionary {source}: {exc}") from None
        if frame.shape[1] < 2 or frame.empty:
            break
        return frame
    raise DataError(
        f"the data dictionary {source} needs two columns: a column name and its description"
    )


def read_data_dictionary(path: str | Path) -> dict[str, FieldEntry]:
    """Every column a data dictionary file describes: column name → :class:`FieldEntry`.

    A CSV (or Excel-exported CSV) with the column name first and its description second;
    headers such as ``Variable``/``Column``/``Field`` and ``Description``/``Meaning`` are
    recognised anywhere, and so are the optional ``Label``, ``Unit``, ``Actionable``,
    ``Levels`` and ``Missing`` (see the module). An empty description continues the one
    above it: spreadsheets that describe a group of columns in one merged cell export it
    that way.

    Raises :class:`~leadscore.errors.DataError` for a missing or unreadable file, and for an
    ``actionable`` other than yes/no or a level that is not ``code=words``, naming the row.

    Example
    -------
    >>> _ = Path("dictionary.csv").write_text(
    ...     "Variable,Description,Label,Unit,Actionable,Levels\\n"
    ...     "returned_same_day,Came back on the day of the first visit,,,yes,"
    ...     "1=Came back the same day; 0=Did not come back the same day\\n"
    ...     "time_on_site_min,Time spent on the site,Time on site,min,yes,\\n"
    ... )
    >>> entries = read_data_dictionary("dictionary.csv")
    >>> entries["time_on_site_min"].unit, entries["returned_same_day"].levels["1"]
    ('min', 'Came back the same day')
    """
    source = Path(path)
    frame = _read_frame(source)
    headers = [normalise_name(c) for c in frame.columns]

    def find(names: tuple[str, ...]) -> int | None:
        return next((headers.index(n) for n in names if n in headers), None)

    name_at = find(NAME_HEADERS)
    name_at = 0 if name_at is None else name_at
    optional = {
        key: find(names)
        for key, names in (("label", LABEL_HEADERS), ("unit", UNIT_HEADERS),
                           ("actionable", ACTIONABLE_HEADERS), ("levels", LEVEL_HEADERS),
                           ("missing", MISSING_HEADERS))
    }  # fmt: skip
    text_at = find(TEXT_HEADERS)
    if text_at is None:  # the first column that is neither the name nor a known one
        taken = {name_at, *(i for i in optional.values() if i is not None)}
        text_at = next((i for i in range(len(headers)) if i not in taken), None)
    if text_at is None:
        raise DataError(
            f"the data dictionary {source} needs two columns: a column name and its description"
        )
    out: dict[str, FieldEntry] = {}
    previous = ""
    for number, row in enumerate(frame.itertuples(index=False, name=None), start=2):
        name, text = str(row[name_at]).strip(), str(row[text_at]).strip()
        if not name:
            continue
        text = text or previous
        previous = text
        cell = {k: str(row[i]).strip() if i is not None else "" for k, i in optional.items()}
        where = f"{source.name}, line {number} ({name})"
        out[name] = FieldEntry(
            name=name,
            description=text,
            label=cell["label"],
            unit=cell["unit"],
            actionable=_actionable(cell["actionable"], where),
            levels=parse_levels(cell["levels"], where),
            missing=cell["missing"],
        )
    return out


def read_dictionary(path: str | Path) -> dict[str, str]:
    """Column descriptions from a data dictionary file: column name → description (see
    :func:`read_data_dictionary`).

    Example
    -------
    >>> _ = Path("dictionary.csv").write_text(
    ...     "Variable,Description\\n"
    ...     "Lead Source,Where the lead came from\\n"
    ...     "Tags,Tags assigned to customers indicating the current status of the lead.\\n"
    ... )
    >>> read_dictionary("dictionary.csv")["Tags"]
    'Tags assigned to customers indicating the current status of the lead.'
    """
    return {name: entry.description for name, entry in read_data_dictionary(path).items()}


def entries_for(entries: Mapping[str, FieldEntry], columns: Iterable[str]) -> dict[str, dict]:
    """The entries of ``columns`` (matched by name, else by :func:`normalise_name`: ``Lead
    Source`` describes ``lead_source``), as the plain dicts a model's metadata keeps.

    Example
    -------
    >>> entries_for({"Lead Source": FieldEntry("Lead Source", label="Source")},
    ...             ["lead_source", "visits"])
    {'lead_source': {'label': 'Source'}}
    """
    by_normal = {normalise_name(name): entry for name, entry in entries.items()}
    out = {}
    for column in columns:
        entry = entries.get(column) or by_normal.get(normalise_name(column))
        if entry is not None and entry.to_dict():
            out[column] = entry.to_dict()
    return out


def described_after_outcome(description: str) -> str | None:
    """The words of a description that say a column is filled in after the outcome."""
    found = _AFTER_OUTCOME_TEXT.search(description or "")
    return found.group(0) if found else None
