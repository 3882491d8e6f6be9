"""scikit-learn tree ensembles, compiled: probabilities and one-field-at-a-time effects.

The batch explanation of a random forest or extra trees model is *occlusion*
(:func:`leadscore.scoring.contributions.contributions`): each field's effect is the change
in log-odds when that field alone takes a typical lead's value. Done with the fitted
pipeline, that is one prediction per field and lead: every tree of every fold model
walked once per field, for each lead.

Most of that work gives back the lead's own answer. A tree's leaf can only change when
the swapped field is split on along the lead's path, and the walk to the new leaf is
the lead's own path up to the first such split. :class:`CompiledTrees` walks each tree
once for the lead, notes the distinct fields on the path, and walks again only for those,
from their first split: a few tree walks per tree instead of one per field. The numbers
are the batch's: the row is rounded to float32 as scikit-learn's trees read it, a missing
value goes where ``missing_go_to_left`` says, and each fold model's leaf values are summed
in tree order and divided by its number of trees, as ``predict_proba`` does.

Several fold models go into one forest; each reads its own slice of the input row (fold
models encode categories differently).

Any model on an encoding where each column is computed from one field can be occluded on
encoded rows: :func:`swap_fields` gives each lead's rows with one field at a time swapped
(one transform instead of one per field), and :func:`plain_estimator` an estimator copy
that reads them as plain arrays.

Example
-------
>>> from sklearn.ensemble import RandomForestClassifier
>>> rng = np.random.default_rng(0)
>>> rows, y = rng.normal(size=(200, 3)), rng.integers(0, 2, 200)
>>> forest_a = RandomForestClassifier(5, random_state=0).fit(rows[:, :2], y)  # columns 0, 1
>>> forest_b = RandomForestClassifier(5, random_state=0).fit(rows[:, 2:], y)  # column 2
>>> trees = CompiledTrees.from_sklearn([forest_a, forest_b], [0, 2])
>>> proba = trees.proba(rows)  # (n, 2): each fold model's probability
>>> bool(np.allclose(proba[:, 0], forest_a.predict_proba(rows[:, :2])[:, 1]))
True
>>> field_of = np.array([0, 0, 1])  # columns 0 and 1 encode field 0, column 2 field 1
>>> proba, swapped = trees.occlude(rows, rows.mean(axis=0), field_of, 2)
>>> swapped.shape  # (leads, fold models, fields)
(200, 2, 2)
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from scipy.special import expit

#: the scikit-learn estimators whose fitted trees compile (``estimators_`` or ``tree_``)
TREE_ESTIMATORS = ("RandomForestClassifier", "ExtraTreesClassifier", "DecisionTreeClassifier")


@dataclass(frozen=True)
class _Nodes:
    """Every tree's nodes side by side, tree after tree (children are global indices)."""

    feature: np.ndarray  # int32: column of the input row (fold model's offset added)
    threshold: np.ndarray  # float64: go left when x <= threshold
    left: np.ndarray  # int32: −1 for a leaf
    right: np.ndarray  # int32
    missing_left: np.ndarray  # bool: where a missing value goes
    categorical: np.ndarray  # bool: a split on category codes (its threshold is NaN)
    cat_row: np.ndarray  # int32: its row of ``left_sets`` (codes that go left)
    known_row: np.ndarray  # int32: its feature's row of ``known_sets`` (codes seen in fit)
    value: np.ndarray  # float64: a forest leaf's share of class 1; a booster leaf's value
    roots: np.ndarray  # int32: each tree's root
    member: np.ndarray  # int32: each tree's fold model
    left_sets: np.ndarray  # uint32 (n, 8): 256-bit sets of category codes
    known_sets: np.ndarray  # uint32 (n, 8)


def swap_fields(
    rows: np.ndarray, typical: np.ndarray, field_of: np.ndarray, n_fields: int
) -> np.ndarray:
    """Encoded rows with one field at a time taking the typical row's columns:
    ``(n, n_fields, n_columns)``. Every encoded column is computed from one field
    (``field_of``), so this is the encoding of each lead with that field swapped."""
    mine = np.asarray(field_of)[None, :] == np.arange(n_fields)[:, None]  # (fields, columns)
    swapped = np.repeat(rows[:, None, :], n_fields, axis=1)
    swapped[:, mine] = np.broadcast_to(typical, (len(rows), *mine.shape))[:, mine]
    return swapped


def plain_estimator(estimator: Any) -> Any:
    """A copy of a fitted estimator that reads plain arrays: fitted on a DataFrame, it
    would warn about the missing column names on every call."""
    plain = copy.copy(estimator)
    if hasattr(plain, "feature_names_in_"):
        del plain.feature_names_in_
    return plain


def _width(estimators: Sequence[Any], offsets: Sequence[int]) -> int:
    pairs = zip(estimators, offsets, strict=True)
    return int(max((o + e.n_features_in_ for e, o in pairs), default=0))


def _trees_of(estimator: Any) -> list[Any]:
    name = type(estimator).__name__
    if name not in TREE_ESTIMATORS:
        raise TypeError(f"{name} is not one of {', '.join(TREE_ESTIMATORS)}")
    if list(estimator.classes_) != [0, 1]:
        raise ValueError(f"only 0/1 classifiers compile, got classes {estimator.classes_}")
    return list(getattr(estimator, "estimators_", [estimator]))


class CompiledTrees:
    """Fitted scikit-learn tree classifiers (one per fold model), flattened for numba.

    Parameters
    ----------
    nodes:
        The flattened trees.
    n_trees:
        Each fold model's number of trees (a forest's probability is its leaves' mean).
    start:
        Each fold model's raw score before its trees (a booster's baseline; 0 for forests).
    boosted:
        Whether the fold models are boosters: their probability is the logistic function of
        their raw score, not the mean of their leaves.
    n_columns:
        Width of the input row (all fold models' columns side by side).
    depth:
        The deepest tree's depth (splits from its root to its deepest leaf).
    """

    def __init__(
        self,
        nodes: _Nodes,
        n_trees: np.ndarray,
        start: np.ndarray,
        boosted: bool,
        n_columns: int,
        depth: int,
    ) -> None:
        self.nodes = nodes
        self.n_trees = n_trees
        self.start = start
        self.boosted = boosted
        self.n_columns = n_columns
        self.depth = depth

    @classmethod
    def from_sklearn(cls, estimators: Sequence[Any], offsets: Sequence[int]) -> CompiledTrees:
        """Compile fitted ``RandomForestClassifier``, ``ExtraTreesClassifier`` or
        ``DecisionTreeClassifier`` objects; estimator ``k`` reads the row from column
        ``offsets[k]`` on (its ``n_features_in_`` columns)."""
        parts: dict[str, list[np.ndarray]] = {name: [] for name in _Nodes.__dataclass_fields__}
        parts["left_sets"] = parts["known_sets"] = [np.zeros((1, 8), dtype=np.uint32)]
        counts, start, depth = [], 0, 0
        for k, (estimator, offset) in enumerate(zip(estimators, offsets, strict=True)):
            trees = _trees_of(estimator)
            counts.append(len(trees))
            for tree in trees:
                t = tree.tree_
                depth = max(depth, int(t.max_depth))
                leaf = t.children_left < 0
                parts["feature"].append(np.where(leaf, 0, t.feature + offset).astype(np.int32))
                parts["threshold"].append(t.threshold.astype(np.float64))
                parts["left"].append(np.where(leaf, -1, t.children_left + start).astype(np.int32))
                parts["right"].append(np.where(leaf, -1, t.children_right + start).astype(np.int32))
                parts["missing_left"].append(np.asarray(t.missing_go_to_left, dtype=bool))
                parts["categorical"].append(np.zeros(t.node_count, dtype=bool))
                parts["cat_row"].append(np.zeros(t.node_count, dtype=np.int32))
                parts["known_row"].append(np.zeros(t.node_count, dtype=np.int32))
                # since scikit-learn 1.4 a classifier's node values are class fractions,
                # what its predict_proba returns for a leaf
                parts["value"].append(np.ascontiguousarray(t.value[:, 0, 1], dtype=np.float64))
                parts["roots"].append(np.array([start], dtype=np.int32))
                parts["member"].append(np.array([k], dtype=np.int32))
                start += t.node_count
        nodes = _Nodes(**{name: np.concatenate(arrays) for name, arrays in parts.items()})
        counted = np.array(counts, dtype=np.float64)
        return cls(nodes, counted, np.zeros(len(counts)), False, _width(estimators, offsets), depth)

    @classmethod
    def from_hist_gradient_boosting(
        cls, estimators: Sequence[Any], offsets: Sequence[int]
    ) -> CompiledTrees:
        """Compile fitted binary ``HistGradientBoostingClassifier`` objects; estimator ``k``
        reads the row from column ``offsets[k]`` on, in the order its trees number the
        columns (categorical columns first where it encoded categories itself) and with
        categories as its own codes.

        Reads the fitted predictors' node records, as its ``_predict_from_raw_data`` walks
        them: category codes that go left, the codes seen in training (others count as
        missing), and the baseline the trees' values add to."""
        parts: dict[str, list[np.ndarray]] = {name: [] for name in _Nodes.__dataclass_fields__}
        counts, baselines, start, depth, n_sets, n_known = [], [], 0, 0, 0, 0
        parts["left_sets"], parts["known_sets"] = [], []
        for k, (estimator, offset) in enumerate(zip(estimators, offsets, strict=True)):
            name = type(estimator).__name__
            if name != "HistGradientBoostingClassifier":
                raise TypeError(f"{name} is not a HistGradientBoostingClassifier")
            if estimator.n_trees_per_iteration_ != 1 or list(estimator.classes_) != [0, 1]:
                raise ValueError("only binary 0/1 histogram boosting models compile")
            known, f_idx_map = estimator._bin_mapper.make_known_categories_bitsets()
            parts["known_sets"].append(np.asarray(known, dtype=np.uint32).reshape(-1, 8))
            baselines.append(float(np.asarray(estimator._baseline_prediction).ravel()[0]))
            counts.append(len(estimator._predictors))
            for (predictor,) in estimator._predictors:
                records = predictor.nodes
                n = len(records)
                leaf = records["is_leaf"].astype(bool)
                categorical = records["is_categorical"].astype(bool) & ~leaf
                feature = records["feature_idx"].astype(np.int64)
                depth = max(depth, int(records["depth"].max()))
                parts["feature"].append(np.where(leaf, 0, feature + offset).astype(np.int32))
                # a categorical split has no threshold: NaN tells the kernel so
                threshold = records["num_threshold"].astype(np.float64)
                parts["threshold"].append(np.where(categorical, np.nan, threshold))
                parts["left"].append(np.where(leaf, -1, records["left"] + start).astype(np.int32))
                parts["right"].append(np.where(leaf, -1, records["right"] + start).astype(np.int32))
                parts["missing_left"].append(records["missing_go_to_left"].astype(bool))
                parts["categorical"].append(categorical)
                rows = records["bitset_idx"].astype(np.int64) + n_sets
                parts["cat_row"].append(np.where(categorical, rows, 0).astype(np.int32))
                known_rows = f_idx_map[feature].astype(np.int64) + n_known
                parts["known_row"].append(np.where(categorical, known_rows, 0).astype(np.int32))
                parts["value"].append(records["value"].astype(np.float64))
                parts["roots"].append(np.array([start], dtype=np.int32))
                parts["member"].append(np.array([k], dtype=np.int32))
                sets = np.asarray(predictor.raw_left_cat_bitsets, dtype=np.uint32).reshape(-1, 8)
                parts["left_sets"].append(sets)
                n_sets += len(sets)
                start += n
            n_known += len(parts["known_sets"][-1])
        parts["left_sets"].append(np.zeros((1, 8), dtype=np.uint32))  # never empty
        parts["known_sets"].append(np.zeros((1, 8), dtype=np.uint32))
        nodes = _Nodes(**{name: np.concatenate(arrays) for name, arrays in parts.items()})
        counted = np.array(counts, dtype=np.float64)
        width = _width(estimators, offsets)
        return cls(nodes, counted, np.array(baselines), True, width, depth)

    @property
    def n_members(self) -> int:
        return len(self.n_trees)

    def _rows(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.n_columns:
            raise ValueError(f"rows must be (n, {self.n_columns}), got {rows.shape}")
        if self.boosted:  # histogram boosting reads float64
            return np.ascontiguousarray(rows)
        # scikit-learn's trees compare float32 inputs with float64 thresholds
        return np.ascontiguousarray(rows.astype(np.float32), dtype=np.float64)

    def proba(self, rows: np.ndarray, pool: Executor | None = None, parts: int = 1) -> np.ndarray:
        """Each fold model's probability of class 1: ``(n, n_members)``. With a ``pool``,
        the rows are cut in ``parts`` run side by side."""
        rows = self._rows(rows)
        if pool is not None and parts > 1 and len(rows) > 1:
            chunks = np.array_split(rows, min(parts, len(rows)))
            others = [pool.submit(self.proba, chunk) for chunk in chunks[1:]]
            return np.vstack([self.proba(chunks[0]), *(o.result() for o in others)])
        n = self.nodes
        total = np.tile(self.start, (len(rows), 1))
        _leaf_sums(rows, n.feature, n.threshold, n.left, n.right, n.missing_left,
                   n.cat_row, n.known_row, *self._sets(), n.value,
                   n.roots, n.member, total)  # fmt: skip
        return self._link(total)

    def _sets(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The category sets for the kernels; None for forests (see :func:`_step`)."""
        if self.boosted:
            return self.nodes.left_sets, self.nodes.known_sets
        return None, None

    def _link(self, total: np.ndarray) -> np.ndarray:
        """Summed leaves (…, members) → each fold model's probability (as ``predict_proba``:
        a forest divides by its trees, a booster's loss takes the logistic function)."""
        if self.boosted:
            return expit(total)
        return total / self.n_trees.reshape((-1,) + (1,) * (total.ndim - 2))

    def occlude(
        self,
        rows: np.ndarray,
        typical: np.ndarray,
        field_of: np.ndarray,
        n_fields: int,
        pool: Executor | None = None,
        parts: int = 1,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each fold model's probability for the rows, ``(n, n_members)``, and for the rows
        with one field at a time taking the ``typical`` row's values, ``(n, n_members,
        n_fields)``.

        Parameters
        ----------
        rows:
            ``(n, n_columns)`` encoded rows.
        typical:
            ``(n_columns,)`` the typical lead's encoded row.
        field_of:
            ``(n_columns,)`` the field (``0 … n_fields − 1``) each column is computed
            from; swapping a field swaps all of its columns.
        """
        rows = self._rows(rows)
        if pool is not None and parts > 1 and len(rows) > 1:
            chunks = np.array_split(rows, min(parts, len(rows)))
            others = [pool.submit(self.occlude, c, typical, field_of, n_fields) for c in chunks[1:]]
            first = self.occlude(chunks[0], typical, field_of, n_fields)
            done = [first, *(o.result() for o in others)]
            return np.vstack([d[0] for d in done]), np.vstack([d[1] for d in done])
        typical = self._rows(np.asarray(typical)[None, :])[0]
        field_of = np.ascontiguousarray(field_of, dtype=np.int32)
        if field_of.shape != (self.n_columns,):
            raise ValueError(f"field_of must be ({self.n_columns},), got {field_of.shape}")
        if len(field_of) and not 0 <= field_of.min() <= field_of.max() < n_fields:
            # the kernel indexes its arrays by field without bounds checks
            raise ValueError(f"field_of must hold fields 0 … {n_fields - 1}")
        n = self.nodes
        total = np.tile(self.start, (len(rows), 1))
        change = np.zeros((len(rows), self.n_members, n_fields))
        path = np.empty(self.depth + 1, dtype=np.int64)  # one path's splits
        _occlude_rows(rows, typical, field_of, n_fields, n.feature, n.threshold, n.left,
                      n.right, n.missing_left, n.cat_row, n.known_row,
                      *self._sets(), n.value, n.roots, n.member, path, total,
                      change)  # fmt: skip
        # a field off every path keeps the lead's own sum exactly
        return self._link(total), self._link(total[:, :, None] + change)


@numba.njit(cache=True, nogil=True, inline="always")
def _step(
    x, node, threshold, left, right, missing_left, cat_row, known_row, left_sets, known_sets,
):  # fmt: skip
    """The decision at one split: scikit-learn's trees (``_apply_dense``) and its histogram
    boosting (``_predict_one_from_raw_data``); a categorical split has a NaN threshold.
    Forests pass no category sets (None), and get a kernel with numeric splits only: the
    categorical check alone costs a forest half its speed."""
    if np.isnan(x):
        return left[node] if missing_left[node] else right[node]
    if left_sets is None:  # forests: numba compiles this call without the rest
        return left[node] if x <= threshold[node] else right[node]
    cut = threshold[node]
    if not np.isnan(cut):
        return left[node] if x <= cut else right[node]
    return _categorical_step(x, node, left, right, missing_left, cat_row, known_row,
                             left_sets, known_sets)  # fmt: skip


@numba.njit(cache=True, nogil=True)
def _categorical_step(
    x, node, left, right, missing_left, cat_row, known_row, left_sets, known_sets,
):  # fmt: skip
    """A categorical split: codes that go left, then codes seen in training (right); a
    negative code or one never seen counts as missing. Apart from the numeric splits'
    inlined path, which it would slow down (forests never come here)."""
    if x < 0:
        return left[node] if missing_left[node] else right[node]
    code = np.uint32(np.uint8(x))
    word, bit = code // np.uint32(32), code % np.uint32(32)
    if (left_sets[cat_row[node], word] >> bit) & np.uint32(1):
        return left[node]
    if (known_sets[known_row[node], word] >> bit) & np.uint32(1):
        return right[node]
    return left[node] if missing_left[node] else right[node]


@numba.njit(cache=True, nogil=True)
def _leaf_sums(
    rows, feature, threshold, left, right, missing_left, cat_row, known_row,
    left_sets, known_sets, value, roots, member, total,
):  # fmt: skip
    for r in range(rows.shape[0]):
        x = rows[r]
        for t in range(roots.shape[0]):
            node = roots[t]
            while left[node] >= 0:
                node = _step(x[feature[node]], node, threshold, left, right, missing_left,
                             cat_row, known_row, left_sets, known_sets)  # fmt: skip
            total[r, member[t]] += value[node]


@numba.njit(cache=True, nogil=True)
def _occlude_rows(
    rows, typical, field_of, n_fields, feature, threshold, left, right, missing_left,
    cat_row, known_row, left_sets, known_sets, value, roots, member, path,
    total, change,
):  # fmt: skip
    # A swapped field's walk follows the lead's path until the first split on that field
    # where the typical value goes the other way (every other split reads the lead's own
    # values): only there does it leave the path, and only from there is it walked.
    done_at = np.full(n_fields, -1, dtype=np.int64)  # the (row, tree) that settled a field
    n_trees = roots.shape[0]
    for r in range(rows.shape[0]):
        x = rows[r]
        for t in range(n_trees):
            stamp = r * n_trees + t
            node = roots[t]
            depth = 0
            while left[node] >= 0:
                path[depth] = node
                depth += 1
                node = _step(x[feature[node]], node, threshold, left, right, missing_left,
                             cat_row, known_row, left_sets, known_sets)  # fmt: skip
            own = value[node]
            m = member[t]
            total[r, m] += own
            for i in range(depth):
                at = path[i]
                c = feature[at]
                f = field_of[c]
                if done_at[f] == stamp:
                    continue
                ahead = path[i + 1] if i + 1 < depth else node
                turn = _step(typical[c], at, threshold, left, right, missing_left,
                             cat_row, known_row, left_sets, known_sets)  # fmt: skip
                if turn == ahead:
                    continue
                done_at[f] = stamp
                other = turn
                while left[other] >= 0:
                    c = feature[other]
                    v = typical[c] if field_of[c] == f else x[c]
                    other = _step(
                        v, other, threshold, left, right, missing_left, cat_row,
                        known_row, left_sets, known_sets,
                    )  # fmt: skip
                change[r, m, f] += value[other] - own
