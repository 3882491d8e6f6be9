"""Which input columns the model relies on: permutation importance on held-out rows.

Each fold model is scored on its own validation fold with one column shuffled at a time;
the drop in ROC-AUC is that column's importance. It works for every model family, on the
business columns themselves (not their one-hot pieces), and on leads the model did not
learn from.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from leadscore.modeling.metrics import safe_auc

Fold = tuple[np.ndarray, np.ndarray]
#: rows of shuffled copies scored in one prediction call
CHUNK_ROWS = 100_000


def permutation_importance(
    models: Sequence[BaseEstimator],
    folds: Sequence[Fold],
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    max_rows: int = 2000,
    repeats: int = 2,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean AUC drop when each column is shuffled, over fold models and repeats.

    Parameters
    ----------
    models, folds:
        Fitted fold models and their ``(train, validation)`` indices, in the same order.
    X, y:
        The typed training table and its outcomes.
    max_rows:
        Validation rows sampled per fold (keeps this to seconds on large tables).
    repeats:
        Shuffles per column and fold.

    Returns
    -------
    DataFrame with ``feature``, ``importance`` (mean AUC drop) and ``std``, most important
    first.
    """
    rng = np.random.default_rng(seed)
    y = np.asarray(y).astype(int)
    drops: dict[str, list[float]] = {c: [] for c in X.columns}
    for model, (_, validation) in zip(models, folds, strict=False):
        rows = validation
        if len(rows) > max_rows:
            rows = rng.choice(rows, max_rows, replace=False)
        sample, target = X.iloc[rows].reset_index(drop=True), y[rows]
        if len(np.unique(target)) < 2:
            continue
        base = safe_auc(target, model.predict_proba(sample)[:, 1])
        # Every shuffled copy of the sample in as few predictions as possible: one call per
        # copy spent most of its time in the pipeline's per-call overhead, not the model.
        shuffled = [
            (column, rng.permutation(len(sample))) for column in X.columns for _ in range(repeats)
        ]
        per_call = max(1, CHUNK_ROWS // len(sample))
        for start in range(0, len(shuffled), per_call):
            batch = shuffled[start : start + per_call]
            copies = []
            for column, order in batch:
                copy = sample.copy()
                copy[column] = sample[column].to_numpy()[order]
                copies.append(copy)
            scores = model.predict_proba(pd.concat(copies, ignore_index=True))[:, 1]
            for k, (column, _) in enumerate(batch):
                part = scores[k * len(sample) : (k + 1) * len(sample)]
                drops[column].append(base - safe_auc(target, part))
    table = pd.DataFrame(
        {
            "feature": list(drops),
            "importance": [float(np.mean(v)) if v else 0.0 for v in drops.values()],
            "std": [float(np.std(v)) if v else 0.0 for v in drops.values()],
        }
    )
    return table.sort_values("importance", ascending=False).reset_index(drop=True)
