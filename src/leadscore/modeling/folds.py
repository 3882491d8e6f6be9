"""Validation folds: shuffled and stratified, or forward in time.

Shuffled stratified folds (repeated for small data) when the rows have no order; with a
time column — or rows found to be in time order (:mod:`leadscore.modeling.order`) —
forward-chaining folds, so every validation lead is newer than every lead its model
learned from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from leadscore.errors import LeadscoreError

Fold = tuple[np.ndarray, np.ndarray]
#: from this many leads on, three folds instead of five by default
LARGE_ROWS = 20_000
#: fewer leads than this in either outcome class cannot be validated meaningfully
MIN_CLASS_COUNT = 10


def fold_count(n_rows: int, asked: int | None = None) -> int:
    """Folds to validate ``n_rows`` leads with: as asked, else 5, or 3 for large tables.

    Example
    -------
    >>> fold_count(6_000), fold_count(70_000), fold_count(70_000, asked=5)
    (5, 3, 5)
    """
    if asked is not None:
        return asked
    return 3 if n_rows >= LARGE_ROWS else 5


def make_folds(
    y: np.ndarray,
    time_values: pd.Series | None = None,
    n_splits: int = 5,
    repeats: int = 1,
    seed: int = 0,
) -> list[Fold]:
    """Validation folds: stratified (repeated when asked) or, with times, forward-chaining.

    With a time column the rows are ordered by time and cut into ``n_splits + 1`` blocks;
    fold *k* trains on blocks ``0..k-1`` and validates on block ``k``, so every
    validation lead is newer than every lead its model learned from.
    """
    y = np.asarray(y)
    counts = np.bincount(y, minlength=2)
    smallest = int(counts.min())
    if smallest < MIN_CLASS_COUNT:
        which = "converted" if counts[1] <= counts[0] else "non-converted"
        raise LeadscoreError(
            f"only {smallest} {which} lead(s): a model needs at least {MIN_CLASS_COUNT} leads of "
            "each outcome to learn a pattern that validation can check; add more labelled leads"
        )
    if time_values is not None:
        order = np.argsort(time_values.to_numpy(), kind="stable")
        blocks = np.array_split(order, n_splits + 1)
        folds = [(np.concatenate(blocks[:k]), blocks[k]) for k in range(1, n_splits + 1)]
        usable = [f for f in folds if len(np.unique(y[f[0]])) == 2]
        if not usable:
            raise LeadscoreError(
                "time-ordered validation needs both outcomes in the earliest leads; "
                "use fewer folds (--cv) or no time column"
            )
        return usable
    n_splits = min(n_splits, smallest)
    if n_splits < 2:
        raise LeadscoreError(
            f"only {smallest} lead(s) in the smaller outcome class: cross-validation needs at "
            "least 2 converted and 2 non-converted leads"
        )
    folds: list[Fold] = []
    for r in range(repeats):
        splitter = StratifiedKFold(n_splits, shuffle=True, random_state=seed + r)
        folds.extend(splitter.split(np.zeros(len(y)), y))
    return folds


def stratified_sample(y: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Sorted row positions of a sample of ``size`` rows with the outcome rate of ``y``."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    chosen = []
    for value in np.unique(y):
        rows = np.flatnonzero(y == value)
        take = max(1, round(size * len(rows) / len(y)))
        chosen.append(rng.choice(rows, size=min(take, len(rows)), replace=False))
    return np.sort(np.concatenate(chosen))
