"""Where hyperparameter search looks, per model family.

Each space is a function of an Optuna trial and the data's profile, returning estimator
parameters (``set_params`` names). The ranges are the usual ones for tabular data, a
little wider on the regularising side for small tables; the defaults in
:mod:`leadscore.modeling.zoo` lie inside them, so the search starts from known ground.
Families without a space (the decision tree, naive Bayes, the MLP) are not tuned: they
rarely win, and the budget is better spent on those that do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leadscore.modeling.zoo import DataProfile

Space = Callable[[Any, DataProfile], dict[str, Any]]


def _lightgbm(trial: Any, p: DataProfile) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 100, 1200, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 64 if p.small else 128, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 3, 100, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.2, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 50.0, log=True),
        "cat_smooth": trial.suggest_float("cat_smooth", 1.0, 100.0, log=True),
    }


def _xgboost(trial: Any, p: DataProfile) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 100, 1200, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "min_child_weight": trial.suggest_float("min_child_weight", 0.5, 30.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.2, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 50.0, log=True),
    }


def _catboost(trial: Any, p: DataProfile) -> dict[str, Any]:
    return {
        "iterations": trial.suggest_int("iterations", 150, 800, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
        "depth": trial.suggest_int("depth", 3, 8),
        "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 1.0, 30.0, log=True),
    }


def _hist_gb(trial: Any, p: DataProfile) -> dict[str, Any]:
    return {
        "max_iter": trial.suggest_int("max_iter", 100, 800, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 4, 64, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 5, 100, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-3, 20.0, log=True),
    }


def _forest(trial: Any, p: DataProfile) -> dict[str, Any]:
    return {
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 50, log=True),
        "max_features": trial.suggest_float("max_features", 0.05, 0.8, log=True),
    }


def _logreg(trial: Any, p: DataProfile) -> dict[str, Any]:
    return {"C": trial.suggest_float("C", 1e-3, 30.0, log=True)}


SPACES: dict[str, Space] = {
    "lightgbm": _lightgbm,
    "xgboost": _xgboost,
    "catboost": _catboost,
    "hist_gb": _hist_gb,
    "random_forest": _forest,
    "extra_trees": _forest,
    "logreg_l1": _logreg,
    "logreg_l2": _logreg,
}
