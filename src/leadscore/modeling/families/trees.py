"""scikit-learn's tree models: a decision tree, a random forest and extra trees.

Explained by occlusion and scored in real time by the compiled trees of
``scoring.occlusion`` (through ``scoring.dense``)."""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

from leadscore.modeling.families.base import DataProfile, ModelFamily


def _decision_tree(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    return DecisionTreeClassifier(
        max_depth=4 if p.small else 7,
        min_samples_leaf=max(p.min_leaf, 10),
        class_weight=p.balanced_weights,
        random_state=seed,
    )


def _random_forest(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    return RandomForestClassifier(
        n_estimators=150,
        min_samples_leaf=p.min_leaf,
        max_features="sqrt",
        class_weight="balanced_subsample" if p.imbalanced else None,
        max_samples=p.tree_sample,
        n_jobs=1,
        random_state=seed,
    )


def _extra_trees(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    return ExtraTreesClassifier(
        n_estimators=150,
        min_samples_leaf=p.min_leaf,
        max_features="sqrt",
        class_weight="balanced_subsample" if p.imbalanced else None,
        # large tables: each tree on a sample, like the random forest
        bootstrap=p.tree_sample is not None,
        max_samples=p.tree_sample,
        n_jobs=1,
        random_state=seed,
    )


def _forest_space(trial: Any, p: DataProfile) -> dict[str, Any]:
    return {
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 50, log=True),
        "max_features": trial.suggest_float("max_features", 0.05, 0.8, log=True),
    }


DECISION_TREE = ModelFamily(
    "decision_tree", "Decision tree", "tree", 2, _decision_tree,
    explainer="occlusion", realtime="dense", cost=2,
)  # fmt: skip
RANDOM_FOREST = ModelFamily(
    "random_forest", "Random forest", "tree", 4, _random_forest,
    explainer="occlusion", realtime="dense", space=_forest_space, cost=6,
)  # fmt: skip
EXTRA_TREES = ModelFamily(
    "extra_trees", "Extra trees", "tree", 4, _extra_trees,
    explainer="occlusion", realtime="dense", space=_forest_space, cost=6,
)  # fmt: skip
