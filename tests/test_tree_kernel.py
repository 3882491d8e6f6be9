"""The batch tree kernels (treeshap.bitvectors and treeshap.walk) give LightGBM's raw
scores, and the bits of the one-row-at-a-time kernel the service uses."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from leadscore.scoring.treeshap import forest as forest_module
from leadscore.scoring.treeshap.bitvectors import (
    ROWS,
    Bitvectors,
    bitvector_layout,
    bitvector_rows,
    eligible,
)
from leadscore.scoring.treeshap.forest import CompiledForest
from leadscore.scoring.treeshap.walk import (
    VIEW_CATEGORY,
    VIEW_NAN_LEFT,
    VIEW_NAN_RIGHT,
    VIEW_ZERO_LEFT,
    VIEW_ZERO_RIGHT,
    VIEW_ZEROED,
    Walk,
    walk_layout,
    walk_rows,
)


def _data(
    n: int, n_numeric: int, n_categorical: int, levels: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(n, n_numeric))
    numeric[rng.random(numeric.shape) < 0.1] = np.nan  # missing values
    numeric[rng.random(numeric.shape) < 0.05] = 0.0  # exact zeros (the Zero missing type)
    categorical = rng.integers(0, levels, size=(n, n_categorical)).astype(float)
    categorical[rng.random(categorical.shape) < 0.05] = np.nan
    signal = np.nan_to_num(numeric).sum(axis=1)
    if n_categorical > 0:
        signal += np.nan_to_num(categorical[:, 0]) % 3 == 0
    if n_categorical > 1:
        signal += np.isin(categorical[:, 1], np.arange(0, levels, 5)) * 1.0
    y = (signal + rng.normal(scale=1.5, size=n) > 0.5).astype(int)
    return np.hstack([numeric, categorical]), y


def _booster(X: np.ndarray, y: np.ndarray, n_categorical: int, **params: object) -> lgb.Booster:
    base = {
        "objective": "binary", "verbose": -1, "num_leaves": 31, "learning_rate": 0.1,
        "min_data_in_leaf": 5, "bagging_fraction": 0.8, "bagging_freq": 1, "seed": 3,
        "max_cat_to_onehot": 4, "cat_smooth": 1.0, "min_data_per_group": 5,
    }  # fmt: skip
    categorical = list(range(X.shape[1] - n_categorical, X.shape[1]))
    data = lgb.Dataset(X, y, categorical_feature=categorical, free_raw_data=False)
    return lgb.train({**base, **params}, data, num_boost_round=40)


def _odd_rows(X: np.ndarray, n_categorical: int, seed: int) -> np.ndarray:
    """Rows a booster rarely sees: NaN everywhere, tiny and infinite numbers, unseen,
    negative and fractional category codes."""
    rng = np.random.default_rng(seed)
    odd = np.repeat(X[:10], 9, axis=0)
    n_numeric = X.shape[1] - n_categorical
    odd[:10] = np.nan
    odd[10:20, :n_numeric] = 1e-36  # zero to the Zero missing type, not to the others
    odd[20:30, :n_numeric] = -1e-36
    odd[30:40, :n_numeric] = np.inf
    odd[40:50, :n_numeric] = -np.inf
    odd[50:60, n_numeric:] = 999  # a category code beyond every bitset
    odd[60:70, n_numeric:] = -3
    odd[70:80, n_numeric:] = rng.integers(0, 5, size=(10, n_categorical)) + 0.7
    odd[80:90] = rng.normal(scale=5, size=(10, X.shape[1]))
    return np.vstack([X, odd])


@pytest.mark.parametrize(
    ("params", "n_numeric", "n_categorical", "levels"),
    [
        ({}, 6, 2, 12),
        ({}, 4, 2, 90),  # bitsets of several 32-bit words
        ({"zero_as_missing": True}, 5, 2, 12),  # the Zero missing type
        ({"use_missing": False}, 4, 1, 12),  # the None missing type only
        ({}, 6, 0, 0),  # numeric trees only
        ({"num_leaves": 255, "min_data_in_leaf": 2}, 10, 2, 40),  # deep, unbalanced trees
        ({"num_leaves": 60, "min_data_in_leaf": 3}, 8, 2, 12),  # 64-bit bitvectors
    ],
)
def test_batch_kernel_equals_lightgbm_and_the_row_kernel(
    params: dict[str, object], n_numeric: int, n_categorical: int, levels: int
) -> None:
    X, y = _data(1500, n_numeric, n_categorical, levels, seed=n_numeric + levels)
    booster = _booster(X, y, n_categorical, **params)
    forest = CompiledForest.from_lightgbm([booster])
    rows = _odd_rows(X, n_categorical, seed=1)

    expected = forest.raw_one_by_one(rows)
    np.testing.assert_allclose(expected, booster.predict(rows, raw_score=True), rtol=0, atol=1e-12)
    # the trees added in the same order as the service's kernel: the same bits
    walked = np.full(len(rows), forest.constant)
    walk_rows(rows, walk_layout(forest.arrays, forest.n_columns), 64, walked)
    assert walked.tobytes() == expected.tobytes()
    if eligible(forest.arrays):
        decided = np.full(len(rows), forest.constant)
        bitvector_rows(rows, bitvector_layout(forest.arrays, forest.n_columns), decided)
        assert decided.tobytes() == expected.tobytes()
    assert forest.raw(rows).tobytes() == expected.tobytes()


def _walk_of(n_numeric: int, n_categorical: int, levels: int, **params: object) -> Walk:
    forest = _forest_of(n_numeric, n_categorical, levels, **params)
    return walk_layout(forest.arrays, forest.n_columns)


def test_the_cases_above_reach_every_path_of_the_kernels() -> None:
    several_words = _walk_of(4, 2, 90)
    assert several_words.tree_mixed.any()  # the walk's step with a bitset
    assert several_words.cat_words.max() > 1  # categories beyond the first 32-bit word
    assert (several_words.slot_view == VIEW_CATEGORY).any()
    assert not _walk_of(6, 0, 0).tree_mixed.any()  # the walk's numeric step
    assert (_walk_of(10, 2, 40, num_leaves=255, min_data_in_leaf=2).tree_depth > 12).any()
    views = set(_walk_of(5, 2, 12, zero_as_missing=True).slot_view)
    assert views & {VIEW_ZERO_LEFT, VIEW_ZERO_RIGHT}
    assert VIEW_ZEROED in set(_walk_of(4, 1, 12, use_missing=False).slot_view)
    assert {VIEW_NAN_LEFT, VIEW_NAN_RIGHT} <= set(_walk_of(6, 2, 12).slot_view)
    # the bitvectors take the 31-leaf trees with a few categories, not the others
    for params, case, expected in [
        ({}, (6, 2, 12), True), ({"zero_as_missing": True}, (5, 2, 12), True),
        ({"use_missing": False}, (4, 1, 12), True), ({}, (6, 0, 0), True),
        ({}, (4, 2, 90), False), ({"num_leaves": 255, "min_data_in_leaf": 2}, (10, 2, 40), False),
    ]:  # fmt: skip
        assert eligible(_forest_of(*case, **params).arrays) is expected, (params, case)
    narrow = bitvector_layout(*_arrays(6, 2, 12))
    assert (narrow.categorical_set != 0).any()
    assert narrow.numeric_mask.dtype == np.uint32  # trees of at most 32 leaves
    wide = _forest_of(8, 2, 12, num_leaves=60, min_data_in_leaf=3)
    assert wide.batch.numeric_mask.dtype == np.uint64
    assert np.diff(wide.batch.tree_leaf).max() > 32


def _forest_of(n_numeric: int, n_categorical: int, levels: int, **params: object) -> Any:
    X, y = _data(1500, n_numeric, n_categorical, levels, seed=n_numeric + levels)
    return CompiledForest.from_lightgbm([_booster(X, y, n_categorical, **params)])


def _arrays(n_numeric: int, n_categorical: int, levels: int) -> tuple[Any, int]:
    forest = _forest_of(n_numeric, n_categorical, levels)
    return forest.arrays, forest.n_columns


def test_a_bag_walks_each_booster_on_its_own_columns() -> None:
    X, y = _data(800, 4, 1, 12, seed=5)
    order = [2, 0, 4, 3, 1]
    first, second = _booster(X, y, 1), _booster(X[:, order], y, 0, num_leaves=7)
    forest = CompiledForest.from_lightgbm([first, second])
    rows = np.hstack([X, X[:, order]])
    expected = (first.predict(X, raw_score=True) + second.predict(X[:, order], raw_score=True)) / 2
    np.testing.assert_allclose(forest.raw(rows), expected, rtol=0, atol=1e-12)


def test_any_block_size_any_tail_and_any_cut_over_threads_give_the_same_bits() -> None:
    X, y = _data(700, 5, 2, 12, seed=6)
    forest = CompiledForest.from_lightgbm([_booster(X, y, 2)])
    expected = forest.raw_one_by_one(X)
    walk = walk_layout(forest.arrays, forest.n_columns)
    for block in (1, 3, 64, 1000):
        raw = np.full(len(X), forest.constant)
        walk_rows(X, walk, block, raw)
        assert raw.tobytes() == expected.tobytes()
    layout = bitvector_layout(forest.arrays, forest.n_columns)
    for n in (1, ROWS - 1, ROWS, ROWS + 1, 2 * ROWS + 5):  # a block's rows past the last
        raw = np.full(n, forest.constant)
        bitvector_rows(X[:n], layout, raw)
        assert raw.tobytes() == expected[:n].tobytes()
    with ThreadPoolExecutor(2) as pool:
        for parts in (2, 3):
            assert forest.raw(X, pool, parts).tobytes() == expected.tobytes()


def test_few_rows_take_the_service_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = _data(300, 3, 1, 12, seed=8)
    forest = CompiledForest.from_lightgbm([_booster(X, y, 1)])
    decided: list[int] = []
    monkeypatch.setattr(forest_module, "bitvector_rows", lambda rows, *_: decided.append(len(rows)))
    forest.raw(X[:1])
    forest.raw(X[: forest_module.BATCH_ROWS - 1])
    assert decided == []
    assert forest._batch is None  # nothing laid out for the service
    forest.raw(X[: forest_module.BATCH_ROWS])
    assert decided == [forest_module.BATCH_ROWS]
    assert isinstance(forest.batch, Bitvectors)


def test_forests_the_bitvectors_cannot_take_are_walked() -> None:
    X, y = _data(1500, 10, 2, 40, seed=50)
    booster = _booster(X, y, 2, num_leaves=255, min_data_in_leaf=2)
    forest = CompiledForest.from_lightgbm([booster])
    assert isinstance(forest.batch, Walk)
    with pytest.raises(ValueError, match="64 leaves"):
        bitvector_layout(forest.arrays, forest.n_columns)
    np.testing.assert_allclose(forest.raw(X), booster.predict(X, raw_score=True), atol=1e-12)


def test_a_forest_of_single_leaves_is_its_constant() -> None:
    X, y = _data(300, 3, 1, 12, seed=9)
    booster = _booster(X, y, 1, min_gain_to_split=1e12)  # no split is ever worth it
    forest = CompiledForest.from_lightgbm([booster])
    assert len(forest.batch.tree_leaf) == 1  # no tree to decide
    np.testing.assert_allclose(forest.raw(X), booster.predict(X, raw_score=True), atol=1e-12)
