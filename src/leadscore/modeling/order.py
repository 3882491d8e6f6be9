"""Are the rows in time order? Tell from the data when no column says when leads came in.

CRM exports are often written oldest first, and markets move: the share of leads that
convert, where they come from, what they do. Shuffled cross-validation then mixes the
future into every training fold and rewards a model that has learned the period rather
than the lead — it looks best in validation and falls apart on next month's leads. When
the table has no time column, :func:`detect_row_order` looks for the two signs of rows in
time order:

* the outcome rate drifts along the file (a χ² test over ten consecutive blocks, so
  strict that a shuffled file passes it by chance once in a million);
* a classifier tells early rows from late ones by their columns, dates aside
  (adversarial validation: cross-validated AUC ≥ 0.70).

What matters is drift, not order: a file sorted by its creation date whose leads behave
the same all along validates as well shuffled (and keeps every row for training). A file
sorted by the outcome is a sort, not a time order. In a file sorted by one of its columns
(a date, a running number, a week, a name) the classifier judges by the other columns,
since the sort key tells early rows from late ones by construction. Comparison then
validates forward: every fold trains on earlier rows and is judged on the rows after them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency

from leadscore.data.lead_table import LeadTable
from leadscore.modeling.quick import quick_auc

RowOrderSetting = Literal["auto", "time", "random"]
#: fewer rows than this are too few to tell drift from noise
MIN_ROWS = 500
#: the χ² test's p-value below which the outcome rate drifts along the file
DRIFT_P = 1e-6
#: a classifier that tells the first half of the rows from the second this well
ADVERSARIAL_AUC = 0.70
#: rows the adversarial check trains on at most (spread evenly over the file)
ADVERSARIAL_SAMPLE = 10_000
#: share of the changes between adjacent rows that go one way, for a column to be the sort key
SORTED_SHARE = 0.98


@dataclass(frozen=True)
class RowOrder:
    """What :func:`detect_row_order` found.

    ``ordered`` decides the validation: forward in file order when true.
    """

    ordered: bool
    reason: str
    early_rate: float | None = None
    late_rate: float | None = None
    drift_p: float | None = None
    adversarial_auc: float | None = None
    sorted_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def detect_row_order(
    table: LeadTable, setting: RowOrderSetting = "auto", seed: int = 0
) -> RowOrder:
    """Whether the rows of a labelled table without a time column are in time order.

    Parameters
    ----------
    table:
        The lead table, rows as they came in the file.
    setting:
        ``"auto"`` detects; ``"time"`` says the rows are in time order; ``"random"`` says
        they are not (``--row-order`` on the command line).
    seed:
        For the adversarial classifier.

    Example
    -------
    >>> from leadscore.config import Roles
    >>> from leadscore.data.lead_table import prepare_table
    >>> unordered = leads.drop(columns="created_at").sample(frac=1, random_state=0)
    >>> table = prepare_table(unordered, Roles(target="converted", id="lead_id"))
    >>> detect_row_order(table).ordered, detect_row_order(table, "time").ordered
    (False, True)
    """
    if setting == "time":
        return RowOrder(True, "you said the rows are in time order (--row-order time)")
    if setting == "random":
        return RowOrder(False, "you said the rows are in no particular order (--row-order random)")
    assert table.y is not None
    y = np.asarray(table.y).astype(int)
    n = len(y)
    if n < MIN_ROWS:
        return RowOrder(False, f"{n} rows are too few to tell a time order from noise")
    if _is_sorted(pd.Series(y)):
        return RowOrder(False, "the rows are sorted by the outcome, which is not a time order")
    sorted_by = next(
        (
            c
            for c in table.features.columns
            if table.features[c].nunique() >= 3 and _is_sorted(table.features[c])
        ),
        None,
    )
    cut = int(0.7 * n)
    early, late = float(y[:cut].mean()), float(y[cut:].mean())
    p = _drift_p(y)
    # the sort key itself tells early from late rows: judge by the other columns
    auc = _adversarial_auc(table, seed, leave_out=sorted_by)
    found = []
    if p < DRIFT_P:
        found.append(
            f"the conversion rate drifts along the file ({early:.1%} in the first 70 % of "
            f"rows, {late:.1%} in the last 30 %; χ² p = {p:.1e})"
        )
    if auc is not None and auc >= ADVERSARIAL_AUC:
        found.append(f"a model tells the early rows from the late ones (AUC {auc:.2f})")
    sort_note = f" (they are sorted by {sorted_by!r})" if sorted_by else ""
    if found:
        reason = f"the rows look time-ordered{sort_note}: " + " and ".join(found)
        return RowOrder(True, reason, early, late, p, auc, sorted_by)
    return RowOrder(
        False,
        f"no sign of a time order in the rows{sort_note}: the conversion rate and the "
        "columns are stable along the file",
        early,
        late,
        p,
        auc,
        sorted_by,
    )


def _is_sorted(values: pd.Series) -> bool:
    """Whether the (non-missing) values run in order along the file: nearly every change
    between adjacent rows goes the same way, and each value sits in (about) one run."""
    present = values.dropna()
    if len(present) < 3:
        return False
    try:
        codes = pd.factorize(present, sort=True)[0]
    except TypeError:  # mixed types that cannot be sorted: no sort order either
        return False
    steps = np.diff(codes)
    changes = steps[steps != 0]
    if len(changes) == 0:
        return False
    one_way = max((changes > 0).mean(), (changes < 0).mean())
    runs = len(changes) + 1
    return bool(one_way >= SORTED_SHARE and runs <= 1.1 * (codes.max() + 1) + 2)


def _drift_p(y: np.ndarray, blocks: int = 10) -> float:
    """χ² test that the outcome rate is the same in consecutive blocks of rows."""
    parts = np.array_split(y, blocks)
    counts = np.array([[part.sum(), len(part) - part.sum()] for part in parts])
    if (counts.sum(axis=0) == 0).any():
        return 1.0
    return float(chi2_contingency(counts)[1])


def _adversarial_auc(table: LeadTable, seed: int, leave_out: str | None = None) -> float | None:
    """Cross-validated AUC of a quick model telling the first half of the rows from the
    second by their columns (but ``leave_out``)."""
    n = table.n_rows
    rows = np.unique(np.linspace(0, n - 1, min(n, ADVERSARIAL_SAMPLE)).astype(int))
    # dates tell early rows from late ones by definition: the question is whether the
    # leads themselves change
    kept = [c for c in table.features.columns if c != leave_out and table.kinds[c] != "datetime"]
    if not kept:
        return None
    features = table.features.iloc[rows][kept].reset_index(drop=True)
    late = (rows >= n // 2).astype(int)
    return quick_auc(features, late, table.kinds, trees=100, seed=seed)
