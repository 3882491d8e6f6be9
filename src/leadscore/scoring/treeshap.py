"""Exact tree SHAP for single leads in a fraction of a millisecond: LightGBM forests compiled.

LightGBM computes path-dependent tree SHAP (``pred_contrib=True``) with the classic
algorithm, O(leaves × depth²) per tree and lead: ~1.5 ms per lead for a 400-tree booster,
so ~8 ms for the default bag of five. A lead's reasons need all of it on every request.

This module computes the same values another way. For one leaf ``l`` with value ``v``, the
unique features ``D`` on its path (``d`` of them), each with ``r_j`` (the share of training
rows that followed the path's edges on ``j``) and ``o_j`` (1 if the lead follows them all),
the leaf's part of feature ``i``'s SHAP value is the Shapley value of the product game
``v · Π_{j∈S} o_j · Π_{j∉S} r_j``. With the Shapley weights written as a Beta integral,
``|S|!(d−|S|−1)!/d! = ∫₀¹ t^|S| (1−t)^(d−|S|−1) dt``, it becomes

* ``i`` followed (``o_i = 1``): ``v (1 − r_i) ∫₀¹ P(t) / a_i(t) dt``
* ``i`` not followed: ``−v ∫₀¹ P(t) / (1 − t) dt``

with ``a_j(t) = t + r_j (1 − t)``, ``b_j(t) = r_j (1 − t)`` and ``P = Π_{o_j=1} a_j ·
Π_{o_j=0} b_j``: polynomials of degree ``d − 1``, which Gauss–Legendre quadrature with
``⌈d/2⌉`` nodes integrates exactly. That is O(leaves × depth) per tree with small
constants, compiled with numba — the same numbers as LightGBM's to rounding (a contract
test compares them), and the lead's own leaf (all ``o_j = 1``) gives the raw score on the
way.

Several boosters (the bagged fold models) go into one :class:`CompiledForest`, their
leaves scaled by ``1/K`` so the outputs are the bag's averages; each booster reads its own
slice of the input row (fold models may code categories differently).

Example
-------
>>> forest = CompiledForest.from_lightgbm([booster_a, booster_b])  # doctest: +SKIP
>>> raw, values, base = forest.explain(np.concatenate([row_a, row_b])[None, :])
... # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

NUMERIC, CATEGORICAL = 0, 1
MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2
#: LightGBM's kZeroThreshold: |x| at or below it counts as zero
ZERO_THRESHOLD = 1e-35
#: deepest path (unique features) the quadrature tables cover
MAX_UNIQUE = 64


def _quadrature(max_unique: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights on [0, 1]; row ``d`` is exact to degree ``d − 1``."""
    nodes = np.zeros((max_unique + 1, (max_unique + 1) // 2 + 1))
    weights = np.zeros_like(nodes)
    for d in range(1, max_unique + 1):
        q = (d + 1) // 2
        x, w = np.polynomial.legendre.leggauss(q)
        nodes[d, :q] = (x + 1) / 2
        weights[d, :q] = w / 2
    return nodes, weights


@dataclass(frozen=True)
class _Arrays:
    """The flattened forest. Internal nodes are numbered parents first, tree after tree."""

    # internal nodes
    feature: np.ndarray  # int32: column of the input row
    threshold: np.ndarray  # float64 (numeric splits)
    kind: np.ndarray  # int8: NUMERIC / CATEGORICAL
    missing: np.ndarray  # int8: MISSING_*
    default_left: np.ndarray  # bool
    cat_start: np.ndarray  # int32: first 32-bit word of a categorical split's bitset
    cat_words: np.ndarray  # int32: its number of words
    child_left: np.ndarray  # int32: internal node, or ~leaf
    child_right: np.ndarray  # int32
    parent: np.ndarray  # int32: −1 for a root
    from_left: np.ndarray  # bool: the node is its parent's left child
    slot: np.ndarray  # int8: which unique feature of the path from the root it splits on
    roots: np.ndarray  # int32
    bitsets: np.ndarray  # uint32
    # leaves
    value: np.ndarray  # float64, already divided by the number of boosters
    leaf_parent: np.ndarray  # int32
    leaf_from_left: np.ndarray  # bool
    slot_start: np.ndarray  # int32: the leaf's first slot
    slot_count: np.ndarray  # int8: the number of unique features on its path
    # slots: the unique features of a leaf's path, in order of first appearance
    slot_feature: np.ndarray  # int32
    slot_zero: np.ndarray  # float64: r, the share of training rows along its edges


_DTYPES = {
    "feature": np.int32, "threshold": np.float64, "kind": np.int8, "missing": np.int8,
    "default_left": np.bool_, "cat_start": np.int32, "cat_words": np.int32,
    "child_left": np.int32, "child_right": np.int32, "parent": np.int32,
    "from_left": np.bool_, "slot": np.int8, "roots": np.int32, "value": np.float64,
    "leaf_parent": np.int32, "leaf_from_left": np.bool_, "slot_start": np.int32,
    "slot_count": np.int8, "slot_feature": np.int32, "slot_zero": np.float64,
}  # fmt: skip


class CompiledForest:
    """One or more LightGBM boosters, flattened for the compiled kernels.

    Parameters
    ----------
    arrays:
        The flattened trees.
    n_columns:
        Width of the input row (all boosters' columns side by side).
    base:
        The bag's expected raw output (what LightGBM puts in its last contrib column).
    constant:
        The part of every raw score from trees that are a single leaf.
    """

    def __init__(self, arrays: _Arrays, n_columns: int, base: float, constant: float) -> None:
        self.arrays = arrays
        self.n_columns = n_columns
        self.base = base
        self.constant = constant
        self._nodes, self._weights = _quadrature(MAX_UNIQUE)

    @classmethod
    def from_lightgbm(cls, boosters: Sequence[Any]) -> CompiledForest:
        """Compile fitted ``lightgbm.Booster`` objects (binary objective) into one forest
        whose outputs are their average; booster ``k`` reads columns
        ``k·n … (k+1)·n − 1`` of the row, ``n`` being its number of features.

        Reads LightGBM's text model (``model_to_string``): the JSON dump is ~7× slower
        to produce and parse, and a reload while the service answers should be short."""
        builder = _Builder(scale=1.0 / len(boosters))
        offset = 0
        for booster in boosters:
            header, trees = _parse_model(booster.model_to_string())
            if header.get("num_tree_per_iteration", "1") != "1":
                raise ValueError("only single-output (binary) LightGBM models compile")
            for tree in trees:
                builder.add_tree(tree, offset)
            offset += int(header["max_feature_idx"]) + 1
        return cls(builder.arrays(), offset, builder.base, builder.constant)

    def _rows(self, rows: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.n_columns:
            raise ValueError(f"rows must be (n, {self.n_columns}), got {rows.shape}")
        return rows

    def explain(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Raw log-odds ``(n,)``, SHAP values per input column ``(n, n_columns)`` and the
        base value, for rows ``(n, n_columns)``; ``raw == base + values.sum(axis=1)``."""
        rows = self._rows(rows)
        a = self.arrays
        raw = np.full(len(rows), self.constant)
        values = np.zeros((len(rows), self.n_columns))
        _explain_rows(
            rows, a.feature, a.threshold, a.kind, a.missing, a.default_left, a.cat_start,
            a.cat_words, a.bitsets, a.parent, a.from_left, a.slot, a.value, a.leaf_parent,
            a.leaf_from_left, a.slot_start, a.slot_count, a.slot_feature, a.slot_zero,
            self._nodes, self._weights, raw, values,
        )  # fmt: skip
        return raw, values, self.base

    def raw(self, rows: np.ndarray) -> np.ndarray:
        """Raw log-odds ``(n,)`` only: the average of the boosters' raw scores."""
        rows = self._rows(rows)
        a = self.arrays
        raw = np.full(len(rows), self.constant)
        _raw_rows(
            rows, a.feature, a.threshold, a.kind, a.missing, a.default_left, a.cat_start,
            a.cat_words, a.bitsets, a.child_left, a.child_right, a.roots, a.value, raw,
        )  # fmt: skip
        return raw


def _parse_model(text: str) -> tuple[dict[str, str], list[dict[str, np.ndarray]]]:
    """LightGBM's text model → its header and, per tree, its arrays by name."""
    blocks = text.split("\nTree=")
    header = dict(line.split("=", 1) for line in blocks[0].splitlines() if "=" in line)
    trees = []
    for block in blocks[1:]:
        block = block.split("\nend of trees", 1)[0]
        fields = dict(line.split("=", 1) for line in block.splitlines()[1:] if "=" in line)
        tree: dict[str, np.ndarray] = {}
        for name, kind in (
            ("split_feature", np.int64), ("threshold", np.float64),
            ("decision_type", np.int64), ("left_child", np.int64), ("right_child", np.int64),
            ("leaf_value", np.float64), ("leaf_count", np.float64),
            ("internal_count", np.float64), ("cat_boundaries", np.int64),
            ("cat_threshold", np.int64),
        ):  # fmt: skip
            raw = fields.get(name, "").split()
            tree[name] = np.array(raw, dtype=np.float64).astype(kind)
        trees.append(tree)
    return header, trees


# LightGBM's decision_type bits (tree.h): categorical, default left, then the missing type
_CATEGORICAL_BIT, _DEFAULT_LEFT_BIT = 1, 2


class _Builder:
    """Walks LightGBM's trees into flat arrays."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.base = 0.0
        self.constant = 0.0
        self.bitsets: list[int] = []
        self.cols: dict[str, list[Any]] = {name: [] for name in _DTYPES}

    def add_tree(self, tree: dict[str, np.ndarray], offset: int) -> None:
        if len(tree["split_feature"]) == 0:  # a single leaf: a constant
            value = self.scale * float(tree["leaf_value"][0])
            self.base += value
            self.constant += value
            return
        values, counts = tree["leaf_value"], tree["leaf_count"]
        # the tree's expected value: each leaf's share of training rows × its value
        self.base += self.scale * float(values @ counts) / float(tree["internal_count"][0])
        self.cols["roots"].append(self._walk(tree, 0, offset, -1, False, {}, []))

    def _walk(
        self, tree: dict[str, np.ndarray], node: int, offset: int, parent: int,
        from_left: bool, slots: dict[int, int], zeros: list[float],
    ) -> int:  # fmt: skip
        """Add ``node`` (LightGBM's reference: split index, or ~leaf) and its subtree,
        parents first; return our reference. ``slots`` maps the path's columns to their
        slot, ``zeros`` holds each slot's share of training rows so far."""
        if node < 0:
            return ~self._add_leaf(tree, ~node, parent, from_left, slots, zeros)
        column = offset + int(tree["split_feature"][node])
        mine = slots.get(column, len(slots))
        index = self._add_split(tree, node, column, parent, from_left, mine)
        count = float(tree["internal_count"][node])
        for side, went_left in (("left_child", True), ("right_child", False)):
            child = int(tree[side][node])
            rows = tree["internal_count"][child] if child >= 0 else tree["leaf_count"][~child]
            share = float(rows) / count
            if column in slots:
                child_slots, child_zeros = slots, list(zeros)
                child_zeros[mine] *= share
            else:
                child_slots, child_zeros = {**slots, column: mine}, [*zeros, share]
            ref = self._walk(tree, child, offset, index, went_left, child_slots, child_zeros)
            self.cols["child_left" if went_left else "child_right"][index] = ref
        return index

    def _add_split(
        self, tree: dict[str, np.ndarray], node: int, column: int, parent: int,
        from_left: bool, slot: int,
    ) -> int:  # fmt: skip
        c = self.cols
        index = len(c["feature"])
        if slot >= MAX_UNIQUE:
            raise ValueError(f"a tree path uses more than {MAX_UNIQUE} features")
        decision = int(tree["decision_type"][node])
        for name, value in (
            ("feature", column), ("missing", (decision >> 2) & 3),
            ("default_left", bool(decision & _DEFAULT_LEFT_BIT)), ("child_left", 0),
            ("child_right", 0), ("parent", parent), ("from_left", from_left), ("slot", slot),
        ):  # fmt: skip
            c[name].append(value)
        if decision & _CATEGORICAL_BIT:
            # the threshold indexes the tree's category bitsets
            which = int(tree["threshold"][node])
            lo, hi = tree["cat_boundaries"][which], tree["cat_boundaries"][which + 1]
            c["kind"].append(CATEGORICAL)
            c["threshold"].append(0.0)
            c["cat_start"].append(len(self.bitsets))
            c["cat_words"].append(int(hi - lo))
            self.bitsets.extend(int(w) for w in tree["cat_threshold"][lo:hi])
        else:
            c["kind"].append(NUMERIC)
            c["threshold"].append(float(tree["threshold"][node]))
            c["cat_start"].append(0)
            c["cat_words"].append(0)
        return index

    def _add_leaf(
        self, tree: dict[str, np.ndarray], leaf: int, parent: int, from_left: bool,
        slots: dict[int, int], zeros: list[float],
    ) -> int:  # fmt: skip
        c = self.cols
        c["value"].append(self.scale * float(tree["leaf_value"][leaf]))
        c["leaf_parent"].append(parent)
        c["leaf_from_left"].append(from_left)
        c["slot_start"].append(len(c["slot_feature"]))
        c["slot_count"].append(len(slots))
        c["slot_feature"].extend(slots)  # in slot order: dicts keep insertion order
        c["slot_zero"].extend(zeros)
        return len(c["value"]) - 1

    def arrays(self) -> _Arrays:
        built = {name: np.array(v, dtype=_DTYPES[name]) for name, v in self.cols.items()}
        return _Arrays(bitsets=np.array(self.bitsets or [0], dtype=np.uint32), **built)


# ----------------------------------------------------------------------------- kernels


@numba.njit(cache=True, nogil=True)
def _goes_left(
    x: float, kind: int, threshold: float, missing: int, default_left: bool,
    start: int, words: int, bitsets: np.ndarray,
) -> bool:  # fmt: skip
    """LightGBM's decision at one split (its tree.h NumericalDecision and
    CategoricalDecision)."""
    if kind == CATEGORICAL:
        if math.isnan(x):
            return False
        category = int(x)  # truncated toward zero, as a C cast: −0.5 is category 0
        if category < 0:
            return False
        word = category // 32
        if word >= words:
            return False
        return (bitsets[start + word] >> np.uint32(category % 32)) & np.uint32(1) == 1
    if math.isnan(x) and missing != MISSING_NAN:
        x = 0.0
    if (missing == MISSING_ZERO and abs(x) <= ZERO_THRESHOLD) or (
        missing == MISSING_NAN and math.isnan(x)
    ):
        return default_left
    return x <= threshold


@numba.njit(cache=True, nogil=True)
def _raw_rows(
    rows, feature, threshold, kind, missing, default_left, cat_start, cat_words, bitsets,
    child_left, child_right, roots, value, raw,
):  # fmt: skip
    for row in range(rows.shape[0]):
        x = rows[row]
        total = 0.0
        for root in roots:
            node = root
            while node >= 0:
                if _goes_left(
                    x[feature[node]], kind[node], threshold[node], missing[node],
                    default_left[node], cat_start[node], cat_words[node], bitsets,
                ):  # fmt: skip
                    node = child_left[node]
                else:
                    node = child_right[node]
            total += value[~node]
        raw[row] += total


@numba.njit(cache=True, nogil=True)
def _explain_rows(
    rows, feature, threshold, kind, missing, default_left, cat_start, cat_words, bitsets,
    parent, from_left, slot, value, leaf_parent, leaf_from_left, slot_start, slot_count,
    slot_feature, slot_zero, quad_nodes, quad_weights, raw, values,
):  # fmt: skip
    n_nodes = len(feature)
    left = np.empty(n_nodes, dtype=np.bool_)
    # bit s of a node's mask: the lead follows every edge so far on the path's s-th feature
    masks = np.empty(n_nodes, dtype=np.uint64)
    everyone = ~np.uint64(0)
    one = np.uint64(1)
    factor = np.empty((MAX_UNIQUE, quad_nodes.shape[1]))
    prefix = np.empty((MAX_UNIQUE, quad_nodes.shape[1]))
    # Paths of up to 8 features (nearly all) share one 4-node rule, exact to degree 7,
    # written out by hand: the compiler keeps the four products in registers.
    t0, t1, t2, t3 = quad_nodes[8, 0], quad_nodes[8, 1], quad_nodes[8, 2], quad_nodes[8, 3]
    u0, u1, u2, u3 = 1.0 - t0, 1.0 - t1, 1.0 - t2, 1.0 - t3
    w0, w1, w2, w3 = quad_weights[8, 0], quad_weights[8, 1], quad_weights[8, 2], quad_weights[8, 3]
    for row in range(rows.shape[0]):
        x = rows[row]
        out = values[row]
        for node in range(n_nodes):  # parents come before their children
            left[node] = _goes_left(
                x[feature[node]], kind[node], threshold[node], missing[node],
                default_left[node], cat_start[node], cat_words[node], bitsets,
            )  # fmt: skip
            up = parent[node]
            if up < 0:
                masks[node] = everyone
            else:
                stray = np.uint64(left[up] != from_left[node])
                masks[node] = masks[up] & ~(stray << np.uint64(slot[up]))
        total = 0.0
        for leaf in range(len(value)):
            up = leaf_parent[leaf]
            stray = np.uint64(left[up] != leaf_from_left[leaf])
            d = np.int64(slot_count[leaf])
            full = (one << np.uint64(d)) - one
            mask = masks[up] & ~(stray << np.uint64(slot[up])) & full
            v = value[leaf]
            first = slot_start[leaf]
            if mask == full:  # the lead's own leaf
                total += v
            if d <= 8:
                # forward: the factors and the products before each slot, at 4 nodes
                p0, p1, p2, p3 = w0, w1, w2, w3
                for s in range(d):
                    r = slot_zero[first + s]
                    b = np.float64((mask >> np.uint64(s)) & one)
                    f0, f1 = r * u0 + t0 * b, r * u1 + t1 * b
                    f2, f3 = r * u2 + t2 * b, r * u3 + t3 * b
                    factor[s, 0], factor[s, 1], factor[s, 2], factor[s, 3] = f0, f1, f2, f3
                    prefix[s, 0], prefix[s, 1], prefix[s, 2], prefix[s, 3] = p0, p1, p2, p3
                    p0, p1, p2, p3 = p0 * f0, p1 * f1, p2 * f2, p3 * f3
                # a feature the lead leaves the path on: −v ∫ P / (1 − t)
                missed = v * (p0 / u0 + p1 / u1 + p2 / u2 + p3 / u3)
                # backward: for each slot the product of all the other factors
                s0 = s1 = s2 = s3 = 1.0
                for s in range(d - 1, -1, -1):
                    b = np.float64((mask >> np.uint64(s)) & one)
                    kept = prefix[s, 0] * s0 + prefix[s, 1] * s1 + prefix[s, 2] * s2
                    kept += prefix[s, 3] * s3
                    gain = v * (1.0 - slot_zero[first + s]) * kept
                    out[slot_feature[first + s]] += b * (gain + missed) - missed
                    s0, s1 = s0 * factor[s, 0], s1 * factor[s, 1]
                    s2, s3 = s2 * factor[s, 2], s3 * factor[s, 3]
                continue
            # deeper paths: the rule with ⌈d/2⌉ nodes, in loops
            q = (d + 1) // 2
            missed = 0.0
            for k in range(q):
                t = quad_nodes[d, k]
                p = quad_weights[d, k]
                for s in range(d):
                    f = slot_zero[first + s] * (1.0 - t)
                    if (mask >> np.uint64(s)) & one:
                        f += t
                    factor[s, k] = f
                    prefix[s, k] = p
                    p *= f
                missed += p / (1.0 - t)
            missed *= v
            for k in range(q):
                suffix = 1.0
                for s in range(d - 1, -1, -1):
                    factor[s, k], suffix = prefix[s, k] * suffix, suffix * factor[s, k]
            for s in range(d):
                column = slot_feature[first + s]
                if (mask >> np.uint64(s)) & one:
                    kept = 0.0
                    for k in range(q):
                        kept += factor[s, k]
                    out[column] += v * (1.0 - slot_zero[first + s]) * kept
                else:
                    out[column] -= missed
        raw[row] += total
