"""A data dictionary: what each column means, as the people who keep the data wrote it.

Its descriptions are evidence for the leakage audit (:mod:`leadscore.modeling.leakage`):
"Tags assigned to customers indicating the current status of the lead" says the column is
written by the team after the lead came in, whatever its strength.
"""

from __future__ import annotations

import re
from pathlib import Path

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


def read_dictionary(path: str | Path) -> dict[str, str]:
    """Column descriptions from a data dictionary file: column name → description.

    A CSV (or Excel-exported CSV) with the column name first and its description second;
    headers such as ``Variable``/``Column``/``Field`` and ``Description``/``Meaning`` are
    recognised anywhere. An empty description continues the one above it: spreadsheets
    that describe a group of columns in one merged cell export it that way.

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
    source = Path(path)
    if not source.is_file():
        raise DataError(f"data dictionary not found: {source}")
    frame = None
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            frame = pd.read_csv(source, dtype=str, keep_default_na=False, encoding=encoding)
            break
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataError(f"cannot read the data dictionary {source}: {exc}") from None
    if frame is None or frame.shape[1] < 2 or frame.empty:
        raise DataError(
            f"the data dictionary {source} needs two columns: a column name and its description"
        )
    headers = [normalise_name(c) for c in frame.columns]

    def find(names: tuple[str, ...], default: int) -> int:
        return next((headers.index(n) for n in names if n in headers), default)

    name_at = find(
        ("variable", "column", "column_name", "variable_name", "field", "feature", "name"), 0
    )
    text_at = find(
        ("description", "meaning", "definition", "details", "notes", "comment"),
        1 if name_at != 1 else 0,
    )
    out: dict[str, str] = {}
    previous = ""
    for name, text in zip(frame.iloc[:, name_at], frame.iloc[:, text_at], strict=True):
        name, text = str(name).strip(), str(text).strip()
        if not name:
            continue
        text = text or previous
        out[name] = text
        previous = text
    return out


def described_after_outcome(description: str) -> str | None:
    """The words of a description that say a column is filled in after the outcome."""
    found = _AFTER_OUTCOME_TEXT.search(description or "")
    return found.group(0) if found else None
