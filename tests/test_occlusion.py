"""scikit-learn tree ensembles compiled (leadscore.scoring.occlusion): scikit-learn's own
numbers, and one-field swaps equal to predicting the swapped rows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.tree import DecisionTreeClassifier

from leadscore.scoring.occlusion import CompiledTrees, swap_fields


def _data(seed: int, rows: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 6))
    X[:, 3] = rng.integers(0, 3, rows)  # a one-hot-like column, ties at the thresholds
    y = (X[:, 0] + 0.5 * X[:, 1] * X[:, 3] + rng.normal(scale=0.8, size=rows) > 0).astype(int)
    X[rng.random((rows, 6)) < 0.1] = np.nan  # missing values the trees route themselves
    return X, y


ESTIMATORS = [
    RandomForestClassifier(n_estimators=30, min_samples_leaf=3, random_state=0),
    ExtraTreesClassifier(n_estimators=30, min_samples_leaf=3, random_state=0),
    DecisionTreeClassifier(min_samples_leaf=5, random_state=0),
]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_probabilities_are_scikit_learns_to_the_bit(estimator) -> None:
    X, y = _data(0)
    fitted = estimator.fit(X, y)
    test, _ = _data(1, rows=300)
    trees = CompiledTrees.from_sklearn([fitted], [0])
    np.testing.assert_array_equal(trees.proba(test)[:, 0], fitted.predict_proba(test)[:, 1])


def test_two_fold_models_read_their_own_columns() -> None:
    X, y = _data(0)
    a = RandomForestClassifier(n_estimators=10, random_state=1).fit(X, y)
    b = ExtraTreesClassifier(n_estimators=20, random_state=2).fit(X[:, :4], y)
    test, _ = _data(3, rows=50)
    trees = CompiledTrees.from_sklearn([a, b], [0, 6])
    proba = trees.proba(np.hstack([test, test[:, :4]]))
    np.testing.assert_array_equal(proba[:, 0], a.predict_proba(test)[:, 1])
    np.testing.assert_array_equal(proba[:, 1], b.predict_proba(test[:, :4])[:, 1])
    with pytest.raises(ValueError, match=r"rows must be \(n, 10\)"):
        trees.proba(test)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_each_swap_is_the_prediction_of_the_swapped_row(estimator) -> None:
    """Fields own several columns (0–1, 2, 3–5); the kernel walks only the trees a swap
    can change, and gets what predicting every swapped row gives."""
    X, y = _data(0)
    fitted = estimator.fit(X, y)
    rows, _ = _data(4, rows=80)
    typical = np.nanmedian(X, axis=0)
    typical[4] = np.nan  # a typical value can be missing too
    field_of = np.array([0, 0, 1, 2, 2, 2])
    trees = CompiledTrees.from_sklearn([fitted], [0])
    proba, swapped = trees.occlude(rows, typical, field_of, 4)
    expected = fitted.predict_proba(swap_fields(rows, typical, field_of, 4).reshape(-1, 6))
    np.testing.assert_array_equal(proba[:, 0], fitted.predict_proba(rows)[:, 1])
    np.testing.assert_allclose(swapped[:, 0, :], expected[:, 1].reshape(80, 4), atol=1e-12)
    with pytest.raises(ValueError, match="field_of must hold fields 0 … 2"):
        trees.occlude(rows, typical, field_of + 1, 3)  # field 3 has no place in the output
    # field 3 owns no column: swapping it changes nothing
    np.testing.assert_array_equal(swapped[:, 0, 3], proba[:, 0])
    assert (np.abs(swapped[:, 0, :3] - proba[:, :1]) > 1e-9).any()


def test_only_binary_scikit_learn_trees_compile() -> None:
    X, y = _data(0)
    with pytest.raises(TypeError, match="is not one of"):
        CompiledTrees.from_sklearn([object()], [0])
    three = RandomForestClassifier(n_estimators=3).fit(np.nan_to_num(X), y + (X[:, 0] > 1))
    with pytest.raises(ValueError, match="only 0/1 classifiers"):
        CompiledTrees.from_sklearn([three], [0])


def _hist_data(seed: int, rows: int = 800) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 5))
    X[:, 0] = rng.integers(0, 12, rows)  # category codes
    X[:, 4] = rng.integers(0, 4, rows)
    effect = np.isin(X[:, 0], [1, 4, 7, 9]) + 0.7 * X[:, 1] - 0.5 * (X[:, 4] == 2)
    y = (effect + rng.normal(scale=0.7, size=rows) > 0.6).astype(int)
    X[rng.random((rows, 5)) < 0.08] = np.nan
    return X, y


def test_histogram_boosting_with_categorical_splits_is_scikit_learns() -> None:
    """Categorical splits (codes that go left, codes never seen in training count as
    missing), missing values and the baseline: predict_proba's numbers, and each swap is
    the prediction of the swapped row."""
    X, y = _hist_data(0)
    fitted = HistGradientBoostingClassifier(
        max_iter=60, categorical_features=[True, False, False, False, True], random_state=0
    ).fit(X, y)
    test, _ = _hist_data(5, rows=200)
    test[:5, 0] = [12, 30, -1, 255, 0.7]  # unseen codes, a negative one, a fraction
    # the trees read the model's own encoding: categories as its codes, and first
    encode = fitted._preprocessor.transform
    rows = encode(test)
    trees = CompiledTrees.from_hist_gradient_boosting([fitted], [0])
    assert trees.nodes.categorical.any()
    np.testing.assert_allclose(
        trees.proba(rows)[:, 0], fitted.predict_proba(test)[:, 1], rtol=0, atol=1e-15
    )
    typical = np.array([[4.0, 0.1, np.nan, -0.3, 2.0]])
    field_of = np.array([0, 1, 1, 2, 3])  # of the raw columns
    order = [0, 4, 1, 2, 3]  # categorical columns first
    proba, swapped = trees.occlude(rows, encode(typical)[0], field_of[order], 4)
    expected = fitted.predict_proba(swap_fields(test, typical[0], field_of, 4).reshape(-1, 5))
    np.testing.assert_allclose(swapped[:, 0, :], expected[:, 1].reshape(200, 4), atol=1e-12)
    np.testing.assert_allclose(proba[:, 0], fitted.predict_proba(test)[:, 1], atol=1e-15)
    assert (np.abs(swapped[:, 0, :] - proba[:, :1]) > 1e-6).any()
