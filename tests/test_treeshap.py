"""The compiled tree SHAP kernel gives LightGBM's own numbers (scores and pred_contrib)."""

from __future__ import annotations

import pickle
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from leadscore.scoring.treeshap import flat, kernels, parse
from leadscore.scoring.treeshap.forest import CompiledForest


def _data(n: int, n_numeric: int, n_categorical: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(n, n_numeric))
    numeric[rng.random(numeric.shape) < 0.1] = np.nan  # missing values
    numeric[rng.random(numeric.shape) < 0.05] = 0.0  # exact zeros (the Zero missing type)
    categorical = rng.integers(0, 12, size=(n, n_categorical)).astype(float)
    X = np.hstack([numeric, categorical])
    signal = np.nan_to_num(numeric).sum(axis=1) + (categorical[:, 0] % 3 == 0) * 1.5
    if n_categorical > 1:
        signal += np.isin(categorical[:, 1], [2, 5, 7]) * 1.0
    y = (signal + rng.normal(scale=1.5, size=n) > 0.5).astype(int)
    return X, y


def _booster(X: np.ndarray, y: np.ndarray, n_categorical: int, **params: object) -> lgb.Booster:
    base = {
        "objective": "binary", "verbose": -1, "num_leaves": 15, "learning_rate": 0.1,
        "min_data_in_leaf": 5, "bagging_fraction": 0.8, "bagging_freq": 1, "seed": 3,
        "max_cat_to_onehot": 4,
    }  # fmt: skip
    categorical = list(range(X.shape[1] - n_categorical, X.shape[1]))
    data = lgb.Dataset(X, y, categorical_feature=categorical, free_raw_data=False)
    return lgb.train({**base, **params}, data, num_boost_round=60)


def _odd_rows(X: np.ndarray, seed: int) -> np.ndarray:
    """Rows a booster rarely sees: NaN everywhere, unseen and negative category codes."""
    rng = np.random.default_rng(seed)
    odd = X[:40].copy()
    odd[:10] = np.nan
    odd[10:20, -1] = 99  # a category code beyond every bitset
    odd[20:30, -1] = -3
    odd[30:40] = rng.normal(scale=5, size=(10, X.shape[1]))
    return np.vstack([X, odd])


@pytest.mark.parametrize(
    ("params", "n_numeric", "n_categorical"),
    [
        ({}, 5, 2),
        ({"zero_as_missing": True}, 5, 2),  # the Zero missing type
        ({"use_missing": False}, 4, 1),  # the None missing type only
        ({"num_leaves": 255, "max_depth": -1, "min_data_in_leaf": 2}, 14, 2),  # deep paths
    ],
)
def test_contributions_and_scores_equal_lightgbm(
    params: dict[str, object], n_numeric: int, n_categorical: int
) -> None:
    X, y = _data(600, n_numeric, n_categorical, seed=len(params) + n_numeric)
    booster = _booster(X, y, n_categorical, **params)
    forest = CompiledForest.from_lightgbm([booster])
    rows = _odd_rows(X, seed=1)

    raw, values, base = forest.explain(rows)
    expected = booster.predict(rows, pred_contrib=True)
    np.testing.assert_allclose(values, expected[:, :-1], atol=1e-10)
    np.testing.assert_allclose(base, expected[0, -1], atol=1e-10)
    np.testing.assert_allclose(raw, booster.predict(rows, raw_score=True), atol=1e-10)
    np.testing.assert_allclose(forest.raw(rows), raw, atol=1e-10)
    np.testing.assert_allclose(raw, base + values.sum(axis=1), atol=1e-9)


def test_one_lead_split_over_threads_equals_one_pass() -> None:
    X, y = _data(400, 5, 2, seed=4)
    forest = CompiledForest.from_lightgbm([_booster(X, y, 2), _booster(X[::-1], y[::-1], 2)])
    rows = np.hstack([X[:30], X[:30]])
    raw, values, base = forest.explain(rows)
    with ThreadPoolExecutor(2) as pool:
        for parts in (2, 3, 7):
            split_raw, split_values, split_base = forest.explain(rows, pool, parts=parts)
            np.testing.assert_allclose(split_raw, raw, atol=1e-12)
            np.testing.assert_allclose(split_values, values, atol=1e-12)
            assert split_base == base
        # the threads' parts are added in one order, whichever finishes first: the same
        # lead gets the same bits every time
        first = forest.explain(rows[:1], pool, parts=2)
        for _ in range(30):
            again = forest.explain(rows[:1], pool, parts=2)
            assert again[0].tobytes() == first[0].tobytes()
            assert again[1].tobytes() == first[1].tobytes()


def test_deep_paths_are_covered_by_the_deep_case() -> None:
    # the deep case above must really exercise paths of more than 8 features
    X, y = _data(600, 14, 2, seed=2 + 14)
    booster = _booster(X, y, 2, num_leaves=255, max_depth=-1, min_data_in_leaf=2)
    forest = CompiledForest.from_lightgbm([booster])
    assert forest.arrays.slot_count.max() > 8


def test_a_bag_of_boosters_reads_its_own_columns_and_averages() -> None:
    X, y = _data(500, 4, 1, seed=5)
    first = _booster(X, y, 1)
    # a second booster trained on columns in another order: its own slice of the row
    order = [2, 0, 3, 1, 4]
    second = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 7, "seed": 1},
        lgb.Dataset(X[:, order], y, categorical_feature=[4]),
        num_boost_round=30,
    )
    forest = CompiledForest.from_lightgbm([first, second])
    rows = np.hstack([X, X[:, order]])
    raw, values, base = forest.explain(rows)

    one, two = first.predict(X, pred_contrib=True), second.predict(X[:, order], pred_contrib=True)
    np.testing.assert_allclose(raw, (one.sum(axis=1) + two.sum(axis=1)) / 2, atol=1e-10)
    np.testing.assert_allclose(values[:, :5], one[:, :-1] / 2, atol=1e-10)
    np.testing.assert_allclose(values[:, 5:], two[:, :-1] / 2, atol=1e-10)
    np.testing.assert_allclose(base, (one[0, -1] + two[0, -1]) / 2, atol=1e-10)


def test_trees_without_a_split_are_constants() -> None:
    X, y = _data(300, 3, 1, seed=7)
    booster = _booster(X, y, 1, min_gain_to_split=1e12)  # no split is ever worth it
    forest = CompiledForest.from_lightgbm([booster])
    raw, values, base = forest.explain(X[:20])
    assert len(forest.arrays.leaf_value) == 0
    np.testing.assert_allclose(raw, booster.predict(X[:20], raw_score=True), atol=1e-12)
    assert np.all(values == 0)
    np.testing.assert_allclose(base, raw[0])


def test_constant_and_split_trees_mix_in_one_bag() -> None:
    X, y = _data(300, 3, 1, seed=9)
    constant, grown = _booster(X, y, 1, min_gain_to_split=1e12), _booster(X, y, 1)
    forest = CompiledForest.from_lightgbm([constant, grown, constant])
    rows = np.hstack([X, X, X])
    raw, values, base = forest.explain(rows)
    parts = [b.predict(X, pred_contrib=True) for b in (constant, grown, constant)]
    np.testing.assert_allclose(raw, sum(p.sum(axis=1) for p in parts) / 3, atol=1e-10)
    np.testing.assert_allclose(values[:, 4:8], parts[1][:, :-1] / 3, atol=1e-10)
    assert np.all(values[:, :4] == 0) and np.all(values[:, 8:] == 0)
    np.testing.assert_allclose(base, sum(p[0, -1] for p in parts) / 3, atol=1e-10)


def test_rows_of_the_wrong_width_are_refused() -> None:
    X, y = _data(200, 3, 1, seed=8)
    forest = CompiledForest.from_lightgbm([_booster(X, y, 1)])
    with pytest.raises(ValueError, match=r"\(n, 4\)"):
        forest.explain(X[:, :3])


def test_a_pickled_booster_keeps_its_parsed_trees(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsed once, saved with the booster: loading and compiling again parses nothing,
    and the forest is the same."""
    X, y = _data(600, 5, 2, seed=11)
    booster = _booster(X, y, 2)
    parse.parsed_trees(booster)
    before = CompiledForest.from_lightgbm([booster]).explain(X[:50])
    loaded = pickle.loads(pickle.dumps(booster))
    parses: list[int] = []
    real = parse._parse_model

    def counted(text: str) -> Any:
        parses.append(len(text))
        return real(text)

    monkeypatch.setattr(parse, "_parse_model", counted)
    after = CompiledForest.from_lightgbm([loaded]).explain(X[:50])
    assert parses == []
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])
    # a booster changed after parsing (a leaf refitted) is parsed again, and read right
    loaded.set_leaf_output(loaded.num_trees() - 1, 0, 0.75)
    changed = CompiledForest.from_lightgbm([loaded])
    assert len(parses) == 1
    np.testing.assert_allclose(changed.raw(X[:50]), loaded.predict(X[:50], raw_score=True))
    # and so is one trained further
    more = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(X, y), 5,
                     init_model=loaded)  # fmt: skip
    more.__dict__[parse._PARSED_ATTRIBUTE] = loaded.__dict__[parse._PARSED_ATTRIBUTE]
    np.testing.assert_allclose(
        CompiledForest.from_lightgbm([more]).raw(X[:50]), more.predict(X[:50], raw_score=True)
    )
    assert len(parses) == 2


def test_saved_models_find_the_class_of_their_parsed_trees() -> None:
    """A saved model.joblib holds its boosters' parsed trees, pickled by their class's path:
    that path (from before the package was split) must keep naming the class."""
    X, y = _data(200, 3, 1, seed=12)
    _, trees = parse.parsed_trees(_booster(X, y, 1))
    assert (type(trees).__module__, type(trees).__qualname__) == (
        "leadscore.scoring.treeshap",
        "_Trees",
    )
    again = pickle.loads(pickle.dumps(trees))
    np.testing.assert_array_equal(again.fields["leaf_value"], trees.fields["leaf_value"])


def test_the_written_out_sweeps_are_current() -> None:
    from leadscore.scoring import sweepgen

    assert sweepgen.target().read_text() == sweepgen.render(), (
        "src/leadscore/scoring/sweeps.py is stale: run python -m leadscore.scoring.sweepgen"
    )


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5, 6, 7, 8, 9, 12])
def test_each_written_out_sweep_integrates_the_products_exactly(d: int) -> None:
    # against the integral of the polynomial itself, for every feature left out
    rng = np.random.default_rng(d)
    m = 7
    rate, delta = np.zeros((64, 32)), np.zeros((64, 32))
    rate[:d, :m] = rng.random((d, m))
    delta[:d, :m] = rng.random((d, m)) - rate[:d, :m] * rng.integers(0, 2, (d, m))
    kept = np.full((64, 32), np.nan)
    nodes, weights = kernels.quadrature(flat.MAX_UNIQUE)
    kernels._sweep(rate, delta, kept, d, m, nodes[d], weights[d])
    for j in range(m):
        for k in range(d):
            poly = np.polynomial.Polynomial([1.0])
            for i in range(d):
                if i != k:
                    poly *= np.polynomial.Polynomial([rate[i, j], delta[i, j]])
            integral = poly.integ()
            assert kept[k, j] == pytest.approx(integral(1.0) - integral(0.0), rel=1e-12)
    assert np.isnan(kept[d:, :]).all() and np.isnan(kept[:, m:]).all()  # nothing else written


def test_begun_explanations_equal_one_pass_whatever_the_pool_takes() -> None:
    X, y = _data(400, 5, 2, seed=11)
    forest = CompiledForest.from_lightgbm([_booster(X, y, 2), _booster(X[::-1], y[::-1], 2)])
    rows = np.hstack([X[:20], X[:20]])
    raw, values, base = forest.explain(rows)
    with ThreadPoolExecutor(1) as pool:
        for share in (0.0, 0.3, 0.625, 1.0):
            for i in range(len(rows)):
                got = forest.begin(rows[i : i + 1], pool, share)()
                np.testing.assert_allclose(got[0], raw[i : i + 1], atol=1e-12)
                np.testing.assert_allclose(got[1], values[i : i + 1], atol=1e-12)
                assert got[2] == base
        with pytest.raises(ValueError, match="one row"):
            forest.begin(rows[:2], pool)
        # a busy pool is not waited for: the part runs once the pool is free
        release = threading.Event()
        pool.submit(release.wait)
        finish = forest.begin(rows[:1], pool, 0.5)
        release.set()
        np.testing.assert_allclose(finish()[1], values[:1], atol=1e-12)
