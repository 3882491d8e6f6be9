"""Exact tree SHAP for LightGBM, compiled: scores and a lead's reasons from one kernel.

LightGBM computes path-dependent tree SHAP (``pred_contrib=True``) with the classic
algorithm, O(leaves × depth²) per tree and lead; with reasons on every API request that
would be the largest cost of a request. This package computes the same values another way.
For one leaf with value ``v``, the unique features on its path (``d`` of them), each with
``r_j`` (the share of training rows that followed the path's edges on ``j``) and ``o_j``
(1 if the lead follows them all), the leaf's part of feature ``i``'s SHAP value is the
Shapley value of the product game ``v · Π_{j∈S} o_j · Π_{j∉S} r_j``. With the Shapley
weights written as a Beta integral, ``|S|!(d−|S|−1)!/d! = ∫₀¹ t^|S| (1−t)^(d−|S|−1) dt``,
it becomes

    ``v (o_i − r_i) ∫₀¹ Π_{j≠i} f_j(t) dt``  with  ``f_j(t) = r_j (1 − t) + o_j t``,

a polynomial of degree ``d − 1`` that Gauss–Legendre quadrature with ``⌈d/2⌉`` nodes
integrates exactly; prefix and suffix products give every ``i`` in one pass. Two sibling
leaves share every factor but their split's, which becomes the sum of their two ``v f``
terms: one pass serves both (two thirds of all leaves come in such pairs). That is
O(leaves × depth) per tree with small constants, compiled with numba — the same numbers
as LightGBM's to rounding (contract tests compare them) — and the lead's own leaf (all
``o_j = 1``) gives the raw score on the way.

Several boosters (the bagged fold models) go into one
:class:`~leadscore.scoring.treeshap.forest.CompiledForest`, their leaves scaled by ``1/K``
so the outputs are the bag's averages; each booster reads its own slice of the input row
(fold models may code categories differently).

The modules, in the order a booster goes through them:

* :mod:`.parse` — LightGBM's text model read into arrays, once per booster, and kept on
  the booster so that a saved model loads with its trees parsed;
* :mod:`.flat` — the parsed trees laid out flat: nodes parents first, and the *groups*
  (a leaf, or a pair of sibling leaves) with the unique features of their paths;
* :mod:`.blocks` — the flat forest cut into blocks of whole trees and laid out as the
  SHAP kernel reads it;
* :mod:`.kernels` — the numba kernels: raw scores by walking the trees, and tree SHAP
  (with the quadrature written out per path size in :mod:`leadscore.scoring.sweeps`);
* :mod:`.bitvectors` — the batch kernel: raw scores of many rows, every split of a tree
  decided for a block of rows at once (QuickScorer's bitvectors, vectorised);
* :mod:`.walk` — the batch kernel for other forests (trees of more than 64 leaves): each
  tree walked by a block of rows at once, without a branch;
* :mod:`.pool` — the process's thread pool the parts of one call run on;
* :mod:`.forest` — :class:`~leadscore.scoring.treeshap.forest.CompiledForest`, which
  compiles the boosters and splits one call's work over the cores.

Example
-------
>>> import lightgbm as lgb
>>> from leadscore.scoring.treeshap.forest import CompiledForest
>>> rng = np.random.default_rng(0)
>>> rows, y = rng.normal(size=(300, 4)), rng.integers(0, 2, 300)
>>> params = {"objective": "binary", "num_leaves": 8, "verbose": -1}
>>> booster_a = lgb.train(params, lgb.Dataset(rows[:, :2], y), num_boost_round=10)
>>> booster_b = lgb.train(params, lgb.Dataset(rows[:, 2:], y), num_boost_round=10)
>>> forest = CompiledForest.from_lightgbm([booster_a, booster_b])  # a row: a's inputs, b's
>>> raw, values, base = forest.explain(rows[:5])
>>> shap_a = booster_a.predict(rows[:5, :2], pred_contrib=True)  # LightGBM's own tree SHAP
>>> shap_b = booster_b.predict(rows[:5, 2:], pred_contrib=True)
>>> bool(np.allclose(values, np.hstack([shap_a[:, :-1], shap_b[:, :-1]]) / 2))
True
>>> bool(np.allclose(raw, base + values.sum(axis=1)))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class _Trees:
    """A booster's trees: per tree its number of leaves and of categorical splits, and
    each field of LightGBM's text model, all trees one after the other
    (:func:`leadscore.scoring.treeshap.parse.parsed_trees`).

    Defined here, not in :mod:`.parse`: every saved ``model.joblib`` holds its boosters'
    parsed trees, pickled under this class's path, which must keep naming it."""

    leaves: np.ndarray
    cats: np.ndarray
    fields: dict[str, np.ndarray]
