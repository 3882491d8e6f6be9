"""LightGBM: native categories, exact tree SHAP through leadscore's compiled kernel."""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator

from leadscore.modeling.families.base import DataProfile, ModelFamily


def _lightgbm(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    import lightgbm as lgb

    return lgb.LGBMClassifier(
        n_estimators=200 if p.small else 400,
        learning_rate=0.03,
        num_leaves=15 if p.small else 31,
        min_child_samples=max(p.min_leaf, 5),
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.5,
        reg_lambda=5.0,
        cat_l2=10.0,
        cat_smooth=50.0,
        max_cat_to_onehot=8,
        scale_pos_weight=p.pos_weight,
        n_jobs=1,
        random_state=seed,
        verbose=-1,
    )


def _space(trial: Any, p: DataProfile) -> dict[str, Any]:
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


LIGHTGBM = ModelFamily(
    "lightgbm", "LightGBM", "native", 6, _lightgbm,
    explainer="tree_shap", realtime="booster", space=_space, library="lightgbm", cost=4,
    fast=True,
)  # fmt: skip
