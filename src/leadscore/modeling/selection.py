"""Which candidate the comparison chooses, and why.

By default the best by the sort metric. Two situations call for more care, because the
leaderboard's first place is then partly luck:

* small data (under 1,000 leads or 100 conversions): the simplest model within one
  standard error of the best AUC — below that, the differences are noise;
* rows in time order (forward validation): among the models within one standard error of
  the best (paired over the same folds), the one that does best on the most recent fifth
  of the validated leads — the period closest to the leads it will score. A model that
  has learned the past period beats the others on average and falls apart on the newest
  leads; this is where it shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np
import pandas as pd

from leadscore.modeling.families import DataProfile
from leadscore.modeling.metrics import LOWER_IS_BETTER


class HasFoldAuc(Protocol):
    """What :func:`choose` reads of a candidate's result: its per-fold AUCs."""

    fold_auc: list[float]


def rank(table: pd.DataFrame, sort: str) -> pd.DataFrame:
    ascending = sort in LOWER_IS_BETTER
    return table.sort_values([sort, "auc"], ascending=[ascending, False]).reset_index(drop=True)


def paired_se(a: list[float], b: list[float]) -> tuple[float, float]:
    """Mean and standard error of the fold-by-fold difference ``a − b``."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    diff = diff[np.isfinite(diff)]
    if len(diff) < 2:
        return float(diff.mean()) if len(diff) else 0.0, float("inf")
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff)))


def choose(
    table: pd.DataFrame,
    sort: str,
    profile: DataProfile,
    n_folds: int,
    results: Mapping[str, HasFoldAuc] | None = None,
    *,
    forward: bool = False,
) -> tuple[str, str]:
    """The chosen candidate and why (see the module docstring).

    Parameters
    ----------
    table:
        Leaderboard rows ranked by :func:`rank` (``auc``, ``auc_std``, ``auc_latest``,
        ``complexity`` per model).
    sort:
        The metric ranked by.
    profile:
        How much data there is.
    n_folds:
        Folds per repeat.
    results:
        Per-candidate fold AUCs, for the paired comparison of forward validation.
    forward:
        The folds ran forward in time.
    """
    top = table.iloc[0]
    if forward and sort == "auc" and results is not None and len(table) > 1:
        return _choose_recent(table, results)
    if not (profile.small and sort == "auc"):
        return str(top["model"]), f"best {sort} across the folds"
    se = float(top["auc_std"]) / np.sqrt(max(n_folds, 1))
    close = table[table["auc"] >= top["auc"] - se]
    simplest = close.sort_values(["complexity", "auc"], ascending=[True, False]).iloc[0]
    if simplest["model"] == top["model"]:
        return str(top["model"]), "best AUC; small data, and no simpler model comes close"
    return (
        str(simplest["model"]),
        f"small data ({profile.n_rows} leads, {profile.n_positive} converted): the simplest "
        f"model within one standard error ({se:.3f}) of the best AUC ({top['model']}, "
        f"{top['auc']:.3f}) — differences that small are noise here",
    )


def _choose_recent(table: pd.DataFrame, results: Mapping[str, HasFoldAuc]) -> tuple[str, str]:
    top = table.iloc[0]
    best_folds = results[str(top["model"])].fold_auc
    close = []
    for _, row in table.iterrows():
        gap, se = paired_se(best_folds, results[str(row["model"])].fold_auc)
        if row["model"] == top["model"] or gap <= se:
            close.append(row)
    pick = max(close, key=lambda row: np.nan_to_num(row["auc_latest"], nan=-1.0))
    if pick["model"] == top["model"]:
        return str(top["model"]), "best AUC validating forward in time, and on the latest leads"
    return (
        str(pick["model"]),
        f"within one standard error of the best forward AUC ({top['model']}, "
        f"{top['auc']:.3f}) and best on the most recent fifth of the leads "
        f"({pick['auc_latest']:.3f} against {top['auc_latest']:.3f})",
    )
