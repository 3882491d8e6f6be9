"""XGBoost: native categories, exact tree SHAP from the booster itself."""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator

from leadscore.modeling.families.base import DataProfile, ModelFamily


def _xgboost(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    import xgboost as xgb

    return xgb.XGBClassifier(
        n_estimators=200 if p.small else 400,
        learning_rate=0.03,
        max_depth=4 if p.small else 5,
        min_child_weight=2,
        subsample=0.8,
        colsample_bytree=0.6,
        reg_lambda=2.0,
        enable_categorical=True,
        max_cat_to_onehot=8,
        tree_method="hist",
        scale_pos_weight=p.pos_weight,
        n_jobs=1,
        random_state=seed,
        eval_metric="logloss",
    )


def _space(trial: Any, p: DataProfile) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 100, 1200, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "min_child_weight": trial.suggest_float("min_child_weight", 0.5, 30.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.2, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 50.0, log=True),
    }


XGBOOST = ModelFamily(
    "xgboost", "XGBoost", "native", 6, _xgboost,
    explainer="tree_shap", realtime="booster", space=_space, library="xgboost", cost=5,
)  # fmt: skip
