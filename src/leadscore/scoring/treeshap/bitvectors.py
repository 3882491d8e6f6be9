"""The batch kernel for trees of at most 64 leaves: QuickScorer's bitvectors over rows.

Walking a tree is a chain of dependent loads, one row at a time. Here nothing is walked:
every split of a tree is decided for a block of :data:`ROWS` rows at once. Each row keeps
a bitvector of the tree's leaves, numbered left to right, all set at first; a split whose
test fails (the row goes right) rules out the leaves of its left subtree, clearing their
bits. The row's leaf is then the lowest bit left: the leftmost leaf not ruled out is the
one its walk would reach (Lucchese et al., *QuickScorer*, SIGIR 2015).

A split is one loop over the block's rows without a branch — the block is stored slot
by slot, so that the rows' values of a slot lie side by side — which LLVM vectorises
(with AVX-512, eight rows an instruction): a tree costs its splits × rows / 8 simple
instructions, where a walk costs its depth × rows dependent loads. A tree's numeric
splits come first, then its categorical ones, so that each loop is of one kind.

The row's values are those of :mod:`.walk`'s expanded row (LightGBM's missing values
decided once per column: each numeric split is ``value <= threshold``); a category is its
code, the split's categories one 64-bit word. So the forest must be :func:`eligible`:
trees of at most 64 leaves, categories in splits below 63 (63 stands for every other
code). Other forests are walked (:mod:`.walk`).

Each tree's leaf is added in the trees' order, from zero, as the other kernels add them:
the same rows get the same bits.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core.extending import intrinsic

from leadscore.scoring.treeshap.flat import CATEGORICAL, Arrays
from leadscore.scoring.treeshap.kernels import ZERO_THRESHOLD
from leadscore.scoring.treeshap.walk import (
    VIEW_CATEGORY,
    VIEW_NAN_LEFT,
    VIEW_ZERO_LEFT,
    VIEW_ZEROED,
    split_slots,
)

#: rows decided together (a multiple of the vector width; measured: 128 and 256 alike,
#: 64 a sixth slower, 32 three times slower)
ROWS = 128
#: leaves a tree may have: one bit each in a 64-bit word
MOST_LEAVES = 64
#: a category slot's code for every category no split's set holds (NaN, negative, ≥ 63)
OTHER_CODE = 63

_U = np.uint64


class Bitvectors(NamedTuple):
    """The flat forest as the bitvector kernel reads it: per tree its numeric splits, its
    categorical splits and its leaves (left to right), each run after the other tree's.

    A NamedTuple, so that numba takes it whole as one argument."""

    slot_column: np.ndarray  # int64: the input column each slot of the expanded row reads
    slot_view: np.ndarray  # int64: walk.VIEW_*
    tree_numeric: np.ndarray  # int64 (trees + 1): each tree's first numeric split
    numeric_slot: np.ndarray  # int64
    numeric_threshold: np.ndarray  # float64
    numeric_mask: np.ndarray  # uint32 or uint64 (trees of > 32 leaves): the leaves kept
    # where the row goes right; the width of the rows' bitvectors
    tree_categorical: np.ndarray  # int64 (trees + 1): each tree's first categorical split
    categorical_slot: np.ndarray  # int64
    categorical_set: np.ndarray  # uint64: bit c: category c goes left
    categorical_mask: np.ndarray  # as numeric_mask
    tree_leaf: np.ndarray  # int64 (trees + 1): each tree's first leaf
    leaf_value: np.ndarray  # float64: its leaves, left to right


def _leaves_per_tree(a: Arrays) -> np.ndarray:
    return np.diff(np.append(a.roots, len(a.feature))) + 1


def eligible(a: Arrays) -> bool:
    """Whether the bitvector kernel takes the flat forest ``a``: every tree of at most
    :data:`MOST_LEAVES` leaves, every category of a categorical split below :data:`OTHER_CODE`.

    Parameters
    ----------
    a:
        The flattened trees (:func:`~leadscore.scoring.treeshap.flat.flatten`).

    Example
    -------
    >>> import lightgbm as lgb
    >>> from leadscore.scoring.treeshap.forest import CompiledForest
    >>> rng = np.random.default_rng(0)
    >>> rows, y = rng.normal(size=(300, 3)), rng.integers(0, 2, 300)
    >>> params = {"objective": "binary", "verbose": -1, "num_leaves": 31}
    >>> forest = CompiledForest.from_lightgbm([lgb.train(params, lgb.Dataset(rows, y), 20)])
    >>> eligible(forest.arrays)
    True
    """
    if len(a.roots) and _leaves_per_tree(a).max() > MOST_LEAVES:
        return False
    return bool(np.all(_category_sets(a)[1]))


def _category_sets(a: Arrays) -> tuple[np.ndarray, np.ndarray]:
    """Each categorical split's categories as one 64-bit word, and whether they fit."""
    split = np.flatnonzero(a.kind == CATEGORICAL)
    words, start = a.cat_words[split].astype(np.int64), a.cat_start[split].astype(np.int64)
    low = a.bitsets[start].astype(np.uint64)
    high = np.where(words > 1, a.bitsets[np.where(words > 1, start + 1, start)], 0)
    fits = (words <= 2) & (high.astype(np.uint64) >> _U(31) == 0)  # bit 63 is OTHER_CODE
    return low | (high.astype(np.uint64) << _U(32)), fits


def bitvector_layout(a: Arrays, n_columns: int) -> Bitvectors:
    """Lay the flat forest ``a`` (rows of ``n_columns``; :func:`eligible`) out for
    :func:`bitvector_rows`.

    Parameters
    ----------
    a:
        The flattened trees (:func:`~leadscore.scoring.treeshap.flat.flatten`).
    n_columns:
        Width of the input row.

    Example
    -------
    >>> import lightgbm as lgb
    >>> from leadscore.scoring.treeshap.forest import CompiledForest
    >>> rng = np.random.default_rng(0)
    >>> rows, y = rng.normal(size=(300, 3)), rng.integers(0, 2, 300)
    >>> booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(rows, y), 20)
    >>> forest = CompiledForest.from_lightgbm([booster])
    >>> layout = bitvector_layout(forest.arrays, forest.n_columns)
    >>> raw = np.full(len(rows), forest.constant)
    >>> bitvector_rows(rows, layout, raw)
    >>> bool(np.allclose(raw, booster.predict(rows, raw_score=True)))
    True
    """
    if not eligible(a):
        raise ValueError("trees of more than 64 leaves, or categories beyond 62: walk them")
    slot_column, slot_view, split_slot = split_slots(a, n_columns)
    categorical = a.kind == CATEGORICAL
    sets = np.zeros(len(a.feature), dtype=np.uint64)
    sets[categorical] = _category_sets(a)[0]
    ends = np.append(a.roots[1:], len(a.feature)).astype(np.int64)
    out = _lay_out(
        a.roots.astype(np.int64), ends, a.child_left.astype(np.int64),
        a.child_right.astype(np.int64), categorical, split_slot, a.threshold, sets,
        a.leaf_value,
    )  # fmt: skip
    layout = Bitvectors(slot_column, slot_view, *out)  # type: ignore[call-arg]
    if not len(a.roots) or _leaves_per_tree(a).max() <= 32:
        # 32-bit bitvectors: half the bytes to read and write a split (measured: a sixth
        # faster on 31-leaf trees)
        narrow = {"numeric_mask", "categorical_mask"}
        layout = layout._replace(**{k: getattr(layout, k).astype(np.uint32) for k in narrow})
    return layout


@numba.njit(cache=True, nogil=True)
def _lay_out(roots, ends, child_left, child_right, categorical, split_slot, threshold, sets,
             leaf_value):  # fmt: skip
    """Number each tree's leaves left to right; each split's mask (its left subtree's
    leaves cleared); each tree's numeric, then categorical splits; its leaves' values."""
    n, n_trees = len(child_left), len(roots)
    below = np.zeros(n, dtype=np.int64)  # leaves under each split
    for i in range(n - 1, -1, -1):  # children come after their parents
        left, right = child_left[i], child_right[i]
        below[i] = (1 if left < 0 else below[left]) + (1 if right < 0 else below[right])
    tree_leaf = np.zeros(n_trees + 1, dtype=np.int64)
    tree_numeric = np.zeros(n_trees + 1, dtype=np.int64)
    tree_categorical = np.zeros(n_trees + 1, dtype=np.int64)
    for t in range(n_trees):
        tree_leaf[t + 1] = tree_leaf[t] + below[roots[t]]
        n_categorical = categorical[roots[t] : ends[t]].sum()
        tree_categorical[t + 1] = tree_categorical[t] + n_categorical
        tree_numeric[t + 1] = tree_numeric[t] + ends[t] - roots[t] - n_categorical
    values = np.empty(tree_leaf[n_trees])
    first = np.zeros(n, dtype=np.int64)  # a split's first leaf, left to right in its tree
    mask = np.empty(n, dtype=np.uint64)
    for t in range(n_trees):
        for i in range(roots[t], ends[t]):  # parents first: first[i] is known
            left, right = child_left[i], child_right[i]
            n_left = 1 if left < 0 else below[left]
            if left < 0:
                values[tree_leaf[t] + first[i]] = leaf_value[~left]
            else:
                first[left] = first[i]
            if right < 0:
                values[tree_leaf[t] + first[i] + n_left] = leaf_value[~right]
            else:
                first[right] = first[i] + n_left
            mask[i] = ~(((_U(1) << _U(n_left)) - _U(1)) << _U(first[i]))
    numeric_slot = np.empty(tree_numeric[n_trees], dtype=np.int64)
    numeric_threshold = np.empty(tree_numeric[n_trees])
    numeric_mask = np.empty(tree_numeric[n_trees], dtype=np.uint64)
    categorical_slot = np.empty(tree_categorical[n_trees], dtype=np.int64)
    categorical_set = np.empty(tree_categorical[n_trees], dtype=np.uint64)
    categorical_mask = np.empty(tree_categorical[n_trees], dtype=np.uint64)
    for t in range(n_trees):
        p, q = tree_numeric[t], tree_categorical[t]
        for i in range(roots[t], ends[t]):
            if categorical[i]:
                categorical_slot[q], categorical_set[q] = split_slot[i], sets[i]
                categorical_mask[q] = mask[i]
                q += 1
            else:
                numeric_slot[p], numeric_threshold[p] = split_slot[i], threshold[i]
                numeric_mask[p] = mask[i]
                p += 1
    return (
        tree_numeric, numeric_slot, numeric_threshold, numeric_mask, tree_categorical,
        categorical_slot, categorical_set, categorical_mask, tree_leaf, values,
    )  # fmt: skip


@intrinsic
def _lowest_bit(typingctx: Any, word: Any) -> Any:
    """The index of the lowest set bit of an integer (LLVM's cttz: x86's ``tzcnt``)."""
    if not isinstance(word, types.Integer):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 0))

    return word(word), codegen


@numba.njit(cache=True, nogil=True)
def _expand(rows, first, m, slot_column, slot_view, values, codes):  # fmt: skip
    """Rows ``first … first + m − 1`` as their slots, slot by slot: slot ``s`` of row
    ``r`` at ``s · ROWS + r`` (the views of :mod:`.walk`; a category slot holds its code,
    or :data:`OTHER_CODE`, in ``codes``, which is ``values`` read as integers)."""
    u_rows, other = _U(ROWS), _U(OTHER_CODE)
    for s in range(_U(len(slot_column))):
        column, view, at = slot_column[s], slot_view[s], s * u_rows
        for r in range(m):
            value, i = rows[first + r, column], at + _U(r)
            if view == VIEW_CATEGORY:
                # truncated toward zero, as LightGBM's C cast: −0.5 is category 0
                has = value > -1.0 and value < OTHER_CODE
                codes[i] = _U(np.int64(value)) if has else other
                continue
            missing = np.isnan(value)
            if view >= VIEW_ZERO_LEFT:
                missing = missing or abs(value) <= ZERO_THRESHOLD
            if view == VIEW_ZEROED:
                values[i] = 0.0 if missing else value
            elif view in (VIEW_NAN_LEFT, VIEW_ZERO_LEFT):
                values[i] = -np.inf if missing else value
            else:
                values[i] = np.nan if missing else value


@numba.njit(cache=True, nogil=True)
def bitvector_rows(rows, q, raw):  # fmt: skip
    """Add each row's raw score (the sum of its leaves, tree after tree) to ``raw``,
    deciding every split of ``q`` (:class:`Bitvectors`) for :data:`ROWS` rows at a time.

    The loops over a block's rows run to :data:`ROWS` whatever the rows left (a constant
    count: the vectoriser's), the rows past the last computed and not kept. Indices are
    unsigned: numba then reads ``values[at + r]`` as one vector, not a gather."""
    n = rows.shape[0]
    u_rows = _U(ROWS)
    values = np.zeros(len(q.slot_column) * ROWS)
    codes = values.view(np.uint64)
    bits = np.empty(ROWS, dtype=q.numeric_mask.dtype)  # one bit a leaf: 32 or 64
    acc = np.empty(ROWS)
    every, one, low = ~_U(0), _U(1), _U(63)  # every: all ones, cut to the bits' width
    for first in range(0, n, ROWS):
        m = min(ROWS, n - first)
        _expand(rows, first, m, q.slot_column, q.slot_view, values, codes)
        acc[:] = 0.0
        for t in range(len(q.tree_leaf) - 1):
            for r in range(u_rows):
                bits[r] = every
            for k in range(_U(q.tree_numeric[t]), _U(q.tree_numeric[t + 1])):
                at, threshold = _U(q.numeric_slot[k]) * u_rows, q.numeric_threshold[k]
                mask = q.numeric_mask[k]
                for r in range(u_rows):
                    bits[r] &= every if values[at + r] <= threshold else mask
            for k in range(_U(q.tree_categorical[t]), _U(q.tree_categorical[t + 1])):
                at, chosen = _U(q.categorical_slot[k]) * u_rows, q.categorical_set[k]
                mask = q.categorical_mask[k]
                for r in range(u_rows):
                    bits[r] &= every if (chosen >> (codes[at + r] & low)) & one else mask
            leaf = _U(q.tree_leaf[t])
            for r in range(u_rows):
                acc[r] += q.leaf_value[leaf + _lowest_bit(bits[r])]
        for r in range(m):
            raw[first + r] += acc[r]
