"""scikit-learn's histogram gradient boosting, with native categorical splits."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier as SklearnHistGradientBoosting

from leadscore.modeling.families.base import DataProfile, ModelFamily


class HistGradientBoostingClassifier(SklearnHistGradientBoosting):
    """scikit-learn's :class:`~sklearn.ensemble.HistGradientBoostingClassifier` (same name,
    so that the compiled scorers that recognise it by name take it as it is) that also
    fits when a numeric column has no value at all in the rows it is given (a small
    cross-validation fold of a sparse field): scikit-learn's binning raises on such a
    column, so it is fitted as a constant, which no split can use — as if it were left out.

    Example
    -------
    >>> X = pd.DataFrame({"visits": [1.0, 2.0, 3.0, 4.0] * 5, "empty": [np.nan] * 20})
    >>> model = HistGradientBoostingClassifier(max_iter=5).fit(X, [0, 1] * 10)
    >>> model.predict_proba(X.assign(empty=7.0)).shape
    (20, 2)
    """

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> HistGradientBoostingClassifier:
        if isinstance(X, pd.DataFrame):
            numeric = X.select_dtypes("number")
            empty = [c for c in numeric.columns if numeric[c].isna().all()]
            if empty:
                X = X.assign(**dict.fromkeys(empty, 0.0))
        super().fit(X, y, sample_weight=sample_weight)
        return self


def _hist_gb(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    return HistGradientBoostingClassifier(
        learning_rate=0.07,
        max_iter=120 if p.small else 200,
        max_leaf_nodes=15,
        min_samples_leaf=max(p.min_leaf, 10),
        l2_regularization=1.0,
        early_stopping=False,
        categorical_features="from_dtype",
        random_state=seed,
    )


def _space(trial: Any, p: DataProfile) -> dict[str, Any]:
    return {
        "max_iter": trial.suggest_int("max_iter", 100, 800, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 4, 64, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 5, 100, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-3, 20.0, log=True),
    }


HIST_GB = ModelFamily(
    "hist_gb", "Histogram gradient boosting", "native", 6, _hist_gb,
    explainer="occlusion", realtime="dense", space=_space, cost=5,
)  # fmt: skip
