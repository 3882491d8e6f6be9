"""A quick model's cross-validated AUC: the yardstick of the audit's own checks.

The leakage audit asks how much a model leans on a strong column (its AUC with and
without it), the row-order check whether a model tells early rows from late ones. Both
want the same thing: plain LightGBM on the native encoding, a few folds, seconds — not the
comparison's care.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from leadscore.data.columns import ColumnKind


def quick_auc(
    features: pd.DataFrame,
    target: np.ndarray,
    kinds: dict[str, ColumnKind],
    *,
    folds: int = 3,
    trees: int = 150,
    seed: int = 0,
) -> float:
    """Cross-validated AUC of LightGBM (``trees`` trees, one thread) predicting ``target``
    from ``features``; NaN when a class has fewer leads than two folds need.

    Example
    -------
    >>> features = leads[["time_on_site_s", "visits", "source"]]
    >>> kinds = {"time_on_site_s": "numeric", "visits": "numeric", "source": "categorical"}
    >>> round(quick_auc(features, (leads["converted"] == "yes").to_numpy(), kinds), 2)
    0.78
    """
    import lightgbm as lgb
    from sklearn.pipeline import Pipeline

    from leadscore.modeling.preprocess import build_preprocessor, plan_columns

    target = np.asarray(target).astype(int)
    n_splits = int(min(folds, np.bincount(target, minlength=2).min()))
    if n_splits < 2 or features.shape[1] == 0:
        return float("nan")
    plan = plan_columns(features, {c: kinds[c] for c in features.columns}, reference_time=None)
    oof = np.zeros(len(target))
    splitter = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
    for train, test in splitter.split(features, target):
        # one thread: two spin against a busy machine for a model this small
        model = Pipeline([
            ("prep", build_preprocessor(plan, "native", seed)),
            ("model", lgb.LGBMClassifier(n_estimators=trees, num_leaves=15, verbose=-1,
                                         n_jobs=1, random_state=seed)),
        ])  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(features.iloc[train], target[train])
        oof[test] = model.predict_proba(features.iloc[test])[:, 1]
    return float(roc_auc_score(target, oof))
