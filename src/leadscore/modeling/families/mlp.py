"""A small neural network (scikit-learn's MLP) on the linear encoding."""

from __future__ import annotations

from sklearn.base import BaseEstimator
from sklearn.neural_network import MLPClassifier

from leadscore.modeling.families.base import DataProfile, ModelFamily


def _mlp(p: DataProfile, cats: list[str], seed: int) -> BaseEstimator:
    return MLPClassifier(
        hidden_layer_sizes=(32,) if p.small else (64, 32),
        alpha=1e-2 if p.small else 1e-3,
        learning_rate_init=1e-3,
        max_iter=300,
        early_stopping=p.n_rows >= 500,
        n_iter_no_change=15,
        random_state=seed,
    )


MLP = ModelFamily(
    "mlp", "Neural network (MLP)", "linear", 5, _mlp,
    explainer="occlusion", realtime="dense", cost=6,
)  # fmt: skip
