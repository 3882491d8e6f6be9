"""The batch kernel for any forest: every tree walked by a block of rows at once.

Forests of trees of at most 64 leaves go to :mod:`.bitvectors`, several times faster;
this kernel takes the others (larger trees, categories beyond 62), and lays out the
expanded row both read.

:func:`~leadscore.scoring.treeshap.kernels.raw_rows` walks one row through one tree after
another: each step waits for the one before (read the node, the row's value, compare, read
the child), and the end of each walk is a mispredicted branch. Here the loops are turned
round: for a block of :data:`BLOCK_ROWS` rows (their values in L1) each tree is walked by
all of them together, step by step, so that the rows' steps overlap; and each step has
no branch:

* every node — leaves too — reads a *slot* of the row and compares it with its threshold;
  the right child is the left one plus one, so the step is
  ``node = child[node] + (not value <= threshold)`` (child and slot read in one word);
* a leaf reads a slot that is always NaN (it goes "right") and its right child is itself,
  so a tree is walked its deepest leaf's number of steps and every row then stands on its
  leaf, whose value is kept in its threshold;
* LightGBM's missing values (its tree.h ``NumericalDecision``) are decided once per row
  and column, not per node: the row is expanded into the *views* of each column the
  splits need (NaN as 0, NaN or zero as −∞ to go left or as NaN to go right), so that each
  split is only ``value <= threshold``;
* a tree with a categorical split also looks each step up in a bitset
  (``CategoricalDecision``), for every node: a numeric split's bitset is the zero word.

The trees are added in their order, from zero, as :func:`raw_rows
<leadscore.scoring.treeshap.kernels.raw_rows>` adds them: the same rows get the same bits.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

from leadscore.scoring.treeshap.flat import CATEGORICAL, MISSING_NAN, MISSING_ZERO, Arrays
from leadscore.scoring.treeshap.kernels import ZERO_THRESHOLD

#: rows walked together through each tree (their expanded values stay in L1)
BLOCK_ROWS = 64
#: a slot's view of its column: the number with NaN as 0 (LightGBM's None missing type);
#: NaN sent left (as −∞) or right (as NaN); zero or NaN sent left or right (its Zero
#: type); a category code
VIEW_ZEROED, VIEW_NAN_LEFT, VIEW_NAN_RIGHT, VIEW_ZERO_LEFT, VIEW_ZERO_RIGHT = range(5)
VIEW_CATEGORY = 5
N_VIEWS = 6
#: a category slot's code where the value has none (NaN, negative): beyond every bitset
NO_CATEGORY = np.uint64(1 << 62)
#: values from this one on are beyond every bitset (LightGBM's categories are 32-bit ints)
LARGEST_CATEGORY = 2.0**31

_U = np.uint64


class Walk(NamedTuple):
    """The flat forest as the batch kernel reads it. Each tree's nodes (leaves too) are
    numbered breadth first from its root, a node's two children side by side.

    A NamedTuple, so that numba takes it whole as one argument."""

    slot_column: np.ndarray  # int64: the input column each slot of the expanded row reads
    slot_view: np.ndarray  # int64: VIEW_*
    tree_root: np.ndarray  # uint64: each tree's first node
    tree_depth: np.ndarray  # int64: its deepest leaf's depth: the steps of its walk
    tree_mixed: np.ndarray  # bool: it has a categorical split
    threshold: np.ndarray  # float64: a numeric split's; −∞ a categorical one's; a leaf's value
    # uint64: a node's left child (the right one is next; a leaf's: itself − 1) << 32 | the
    # slot it reads (a leaf: the last, always NaN): one load for both
    link: np.ndarray
    cat_start: np.ndarray  # uint64: a categorical split's first word in bitsets; else 0
    cat_words: np.ndarray  # uint64: its number of words (a zero word follows); else 0
    bitsets: np.ndarray  # uint32: word 0 is zero


def walk_layout(a: Arrays, n_columns: int) -> Walk:
    """Lay the flat forest ``a`` (rows of ``n_columns``) out for :func:`walk_rows`.

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
    >>> walk = walk_layout(forest.arrays, forest.n_columns)
    >>> raw = np.full(len(rows), forest.constant)
    >>> walk_rows(rows, walk, BLOCK_ROWS, raw)
    >>> bool(np.allclose(raw, booster.predict(rows, raw_score=True)))
    True
    """
    n_splits = len(a.feature)
    n_trees = len(a.roots)
    ends = np.append(a.roots[1:], n_splits).astype(np.int64)
    categorical = a.kind == CATEGORICAL
    # each categorical split's words, then a zero word; word 0 is the numeric splits' zero
    words = np.where(categorical, a.cat_words, 0).astype(np.int64)
    starts = 1 + np.concatenate([[0], np.cumsum(words + categorical)[:-1]]).astype(np.int64)
    bitsets = np.zeros(1 + int((words + categorical).sum()), dtype=np.uint32)
    for node in np.flatnonzero(categorical):
        lo = int(a.cat_start[node])
        bitsets[starts[node] : starts[node] + words[node]] = a.bitsets[lo : lo + words[node]]
    slot_column, slot_view, split_slot = split_slots(a, n_columns)
    out = _lay_out(
        n_trees, ends, a.roots.astype(np.int64), a.child_left.astype(np.int64),
        a.child_right.astype(np.int64), a.threshold, a.leaf_value, split_slot,
        categorical, np.where(categorical, starts, 0), words, len(slot_column),
    )  # fmt: skip
    tree_root, tree_depth, tree_mixed, column, threshold, child, cat_start, cat_words = out
    link = (child.astype(np.uint64) << np.uint64(32)) | column.astype(np.uint64)
    return Walk(
        slot_column, slot_view, tree_root, tree_depth, tree_mixed, threshold, link, cat_start,
        cat_words, bitsets,
    )  # fmt: skip


def split_slots(a: Arrays, n_columns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The slots of the expanded row: one per (view, column) the splits of ``a`` read, in
    order of first use — each slot's column and view — and the slot of each split."""
    view = np.full(len(a.feature), VIEW_ZEROED, dtype=np.int64)
    nan, zero = a.missing == MISSING_NAN, a.missing == MISSING_ZERO
    view[nan] = np.where(a.default_left[nan], VIEW_NAN_LEFT, VIEW_NAN_RIGHT)
    view[zero] = np.where(a.default_left[zero], VIEW_ZERO_LEFT, VIEW_ZERO_RIGHT)
    view[a.kind == CATEGORICAL] = VIEW_CATEGORY
    keys = view * n_columns + a.feature.astype(np.int64)
    used, first = np.unique(keys, return_index=True)
    used = used[np.argsort(first)]
    slot_of = np.full(N_VIEWS * n_columns, -1, dtype=np.int64)
    slot_of[used] = np.arange(len(used))
    return used % n_columns, used // n_columns, slot_of[keys]


@numba.njit(cache=True, nogil=True)
def _lay_out(
    n_trees, ends, roots, child_left, child_right, split_threshold, leaf_value, split_slot,
    categorical, split_start, split_words, nan_slot,
):  # fmt: skip
    """Number each tree's nodes breadth first (children side by side) and fill the
    node arrays of :class:`Walk`."""
    n_nodes = 2 * len(child_left) + n_trees  # a tree of s splits has 2s + 1 nodes
    column = np.empty(n_nodes, dtype=np.uint32)
    threshold = np.empty(n_nodes)
    child = np.empty(n_nodes, dtype=np.uint32)
    cat_start = np.zeros(n_nodes, dtype=np.uint64)
    cat_words = np.zeros(n_nodes, dtype=np.uint64)
    tree_root = np.empty(n_trees, dtype=np.uint64)
    tree_depth = np.zeros(n_trees, dtype=np.int64)
    tree_mixed = np.zeros(n_trees, dtype=np.bool_)
    most = 1
    for t in range(n_trees):
        most = max(most, ends[t] - roots[t])
    queue = np.empty(2 * most + 1, dtype=np.int64)  # a node: split index, or ~leaf
    depth = np.empty(2 * most + 1, dtype=np.int64)
    base = 0
    for t in range(n_trees):
        tree_root[t] = base
        queue[0], depth[0] = roots[t], 0
        tail = 1
        for head in range(2 * (ends[t] - roots[t]) + 1):
            ref, me = queue[head], base + head  # breadth first: the queue's order is ours
            if ref < 0:
                column[me] = nan_slot
                threshold[me] = leaf_value[~ref]
                child[me] = me - 1
                tree_depth[t] = max(tree_depth[t], depth[head])
                continue
            column[me] = split_slot[ref]
            child[me] = base + tail
            if categorical[ref]:
                threshold[me] = -np.inf
                cat_start[me] = split_start[ref]
                cat_words[me] = split_words[ref]
                tree_mixed[t] = True
            else:
                threshold[me] = split_threshold[ref]
            queue[tail], queue[tail + 1] = child_left[ref], child_right[ref]
            depth[tail] = depth[tail + 1] = depth[head] + 1
            tail += 2
        base += 2 * (ends[t] - roots[t]) + 1
    return tree_root, tree_depth, tree_mixed, column, threshold, child, cat_start, cat_words


@numba.njit(cache=True, nogil=True)
def _expand(rows, first, m, slot_column, slot_view, stride, values, codes):  # fmt: skip
    """Rows ``first … first + m − 1`` as their slots (the views the splits read), one row
    after the other ``stride`` apart, the last slot of each NaN. ``codes`` is ``values``
    read as integers: a category slot holds its code there."""
    n_slots = len(slot_column)
    for r in range(m):
        x = rows[first + r]
        at = r * stride
        for s in range(n_slots):
            value = x[slot_column[s]]
            view = slot_view[s]
            missing = math.isnan(value)
            if view == VIEW_CATEGORY:
                # truncated toward zero, as LightGBM's C cast: −0.5 is category 0; NaN,
                # −1 or less and beyond any bitset have none
                has = value > -1.0 and value < LARGEST_CATEGORY
                codes[at + s] = _U(np.int64(value)) if has else NO_CATEGORY
                continue
            if view >= VIEW_ZERO_LEFT:
                missing = missing or abs(value) <= ZERO_THRESHOLD
            if view == VIEW_ZEROED:
                values[at + s] = 0.0 if missing else value
            elif view in (VIEW_NAN_LEFT, VIEW_ZERO_LEFT):
                values[at + s] = -np.inf if missing else value
            else:
                values[at + s] = np.nan if missing else value
        values[at + n_slots] = np.nan


@numba.njit(cache=True, nogil=True)
def walk_rows(rows, w, block, raw):  # fmt: skip
    """Add each row's raw score (the sum of its leaves, tree after tree) to ``raw``,
    walking the trees of ``w`` (:class:`Walk`) for ``block`` rows at a time."""
    n = rows.shape[0]
    n_slots = len(w.slot_column)
    stride = n_slots + 1
    values = np.empty(block * stride)
    codes = values.view(np.uint64)
    node = np.empty(block, dtype=np.uint64)
    acc = np.empty(block)
    threshold, link = w.threshold, w.link
    cat_start, cat_words, bitsets = w.cat_start, w.cat_words, w.bitsets
    one, five, low, slot, half = _U(1), _U(5), _U(31), _U(0xFFFFFFFF), _U(32)
    ustride = _U(stride)
    for first in range(0, n, block):
        m = min(block, n - first)
        um = _U(m)
        _expand(rows, first, m, w.slot_column, w.slot_view, stride, values, codes)
        acc[:m] = 0.0
        for t in range(len(w.tree_root)):
            root = w.tree_root[t]
            for r in range(um):
                node[r] = root
            if w.tree_mixed[t]:
                for _ in range(w.tree_depth[t]):
                    for r in range(um):
                        i = node[r]
                        to = link[i]
                        s = r * ustride + (to & slot)
                        code = codes[s]
                        word = bitsets[cat_start[i] + min(code >> five, cat_words[i])]
                        left = _U(values[s] <= threshold[i]) | ((_U(word) >> (code & low)) & one)
                        node[r] = (to >> half) + (one - left)
            else:
                for _ in range(w.tree_depth[t]):
                    for r in range(um):
                        i = node[r]
                        to = link[i]
                        right = _U(not values[r * ustride + (to & slot)] <= threshold[i])
                        node[r] = (to >> half) + right
            for r in range(um):
                acc[r] += threshold[node[r]]
        for r in range(m):
            raw[first + r] += acc[r]
