"""scikit-learn's histogram gradient boosting, with native categorical splits."""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier

from leadscore.modeling.families.base import DataProfile, ModelFamily


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
