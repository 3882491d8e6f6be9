"""The model families, registered in one table.

Adding a family is one module here (its :class:`~leadscore.modeling.families.base.ModelFamily`:
estimator and defaults, encoding, search space, the kinds of its explainer and real-time
compiler) and one line in :data:`FAMILIES`. Every other part of leadscore asks the family
object — comparison and tuning, the saved model's version checks, explanations, the
real-time scorer, the dashboard.
"""

from __future__ import annotations

from leadscore.errors import LeadscoreError
from leadscore.modeling.families.base import DataProfile, ModelFamily
from leadscore.modeling.families.catboost import CATBOOST
from leadscore.modeling.families.hist_gb import HIST_GB
from leadscore.modeling.families.lightgbm import LIGHTGBM
from leadscore.modeling.families.linear import LOGREG_L1, LOGREG_L2
from leadscore.modeling.families.mlp import MLP
from leadscore.modeling.families.naive_bayes import NAIVE_BAYES
from leadscore.modeling.families.trees import DECISION_TREE, EXTRA_TREES, RANDOM_FOREST
from leadscore.modeling.families.xgboost import XGBOOST

FAMILIES: dict[str, ModelFamily] = {
    family.name: family
    for family in (
        NAIVE_BAYES,
        LOGREG_L1,
        LOGREG_L2,
        DECISION_TREE,
        RANDOM_FOREST,
        EXTRA_TREES,
        MLP,
        HIST_GB,
        LIGHTGBM,
        XGBOOST,
        CATBOOST,
    )
}

__all__ = ["FAMILIES", "DataProfile", "ModelFamily", "family", "get_families"]


def get_families(names: list[str] | None = None) -> list[ModelFamily]:
    """Families by name (all when ``names`` is empty); unknown names are an error.

    Example
    -------
    >>> [f.name for f in get_families(["lightgbm", "logreg_l2"])]
    ['lightgbm', 'logreg_l2']
    """
    if not names:
        return list(FAMILIES.values())
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise LeadscoreError(
            f"unknown model {', '.join(repr(n) for n in unknown)}; "
            f"choose from: {', '.join(FAMILIES)}"
        )
    return [FAMILIES[n] for n in names]


def family(name: str) -> ModelFamily:
    """The family of that name (an error naming the choices when there is none)."""
    (found,) = get_families([name])
    return found
