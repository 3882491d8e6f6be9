"""Exact tree SHAP for LightGBM, compiled: a lead's reasons in ~0.14 ms per 400-tree booster.

LightGBM computes path-dependent tree SHAP (``pred_contrib=True``) with the classic
algorithm, O(leaves × depth²) per tree and lead: ~1.5 ms per lead for a 400-tree booster,
so ~8 ms for the default bag of five. A lead's reasons need all of it on every request.

This module computes the same values another way. For one leaf with value ``v``, the
unique features on its path (``d`` of them), each with ``r_j`` (the share of training
rows that followed the path's edges on ``j``) and ``o_j`` (1 if the lead follows them all),
the leaf's part of feature ``i``'s SHAP value is the Shapley value of the product game
``v · Π_{j∈S} o_j · Π_{j∉S} r_j``. With the Shapley weights written as a Beta integral,
``|S|!(d−|S|−1)!/d! = ∫₀¹ t^|S| (1−t)^(d−|S|−1) dt``, it becomes

    ``v (o_i − r_i) ∫₀¹ Π_{j≠i} f_j(t) dt``  with  ``f_j(t) = r_j (1 − t) + o_j t``,

a polynomial of degree ``d − 1`` that Gauss–Legendre quadrature with ``⌈d/2⌉`` nodes
integrates exactly; prefix and suffix products give every ``i`` in one pass. Two sibling
leaves share every factor but their split's, which becomes the sum of their two ``v f``
terms: one pass serves both (two thirds of all leaves come in such pairs). That is
O(leaves × depth) per tree with small constants, compiled with numba — the same numbers
as LightGBM's to rounding (contract tests compare them) — and the lead's own leaf (all
``o_j = 1``) gives the raw score on the way.

The kernel takes the groups in *buckets* of one size (path features) and kind (leaf or
pair), 32 at a time, stage by stage: each stage is a loop over those groups without a
branch that depends on the group, and each group gets the smallest rule exact for it. The
quadrature is written out for every size up to eight (:mod:`leadscore.scoring.sweeps`), so
its products stay in registers and the loop over groups vectorises; the loops count with
unsigned integers, which spares numba's negative-index correction on every array access.
For the bag of five 400-tree boosters that is 0.68 ms per lead on one core (a 2-core
shared VM; 2.1 ms for the same stages with signed counters and loops over the path).

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

import functools
import itertools
import math
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import numba
import numpy as np

from leadscore.scoring import sweeps

NUMERIC, CATEGORICAL = 0, 1
MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2
#: LightGBM's kZeroThreshold: |x| at or below it counts as zero
ZERO_THRESHOLD = 1e-35
#: deepest path (unique features) the quadrature tables cover
MAX_UNIQUE = 64


_T = TypeVar("_T")

#: longest wait of :meth:`CompiledForest.begin` for the pool's thread to start its part
START_WAIT_S = 0.002
#: the machine's cores: how many parts one call's work is cut into
CORES = os.cpu_count() or 1
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def shared_pool() -> ThreadPoolExecutor:
    """This process's threads for running parts of compiled forests beside the caller
    (one pool for batch explanations and the service's single leads alike)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(CORES, thread_name_prefix="leadscore-forest")
        return _POOL


@functools.cache
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
    """The flattened forest. Internal nodes are numbered parents first, tree after tree.

    The SHAP kernel walks *groups*: a leaf, or a pair of sibling leaves (two thirds of
    all leaves), whose paths share every feature but the last split's — one pass over
    the shared features serves both."""

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
    roots: np.ndarray  # int32: each tree's first internal node
    tree_groups: np.ndarray  # int32: each tree's first group
    bitsets: np.ndarray  # uint32
    # leaves (the scores' tree walk)
    leaf_value: np.ndarray  # float64, already divided by the number of boosters
    leaf_parent: np.ndarray  # int32
    leaf_from_left: np.ndarray  # bool
    # groups (the SHAP kernel)
    group_node: np.ndarray  # int32: a leaf's parent, or the pair's parent
    group_from_left: np.ndarray  # bool: a leaf is its parent's left child
    group_special: np.ndarray  # int8: −1 for a leaf; for a pair, the slot of its split
    group_value: np.ndarray  # float64: the leaf's value; a pair's left leaf's
    group_value_right: np.ndarray  # float64: a pair's right leaf's value
    group_share_left: np.ndarray  # float64: a pair's share of rows going left
    group_share_right: np.ndarray  # float64
    slot_start: np.ndarray  # int32: the group's first slot
    slot_count: np.ndarray  # int8: the number of unique features on its path(s)
    # slots: the unique features of a path, in order of first appearance; for a pair's
    # split feature, the share of rows along its edges above the pair
    slot_feature: np.ndarray  # int32
    slot_zero: np.ndarray  # float64: r, the share of training rows along its edges


_DTYPES = {
    "feature": np.int32, "threshold": np.float64, "kind": np.int8, "missing": np.int8,
    "default_left": np.bool_, "cat_start": np.int32, "cat_words": np.int32,
    "child_left": np.int32, "child_right": np.int32, "parent": np.int32,
    "from_left": np.bool_, "slot": np.int8, "roots": np.int32, "tree_groups": np.int32,
    "leaf_value": np.float64, "leaf_parent": np.int32, "leaf_from_left": np.bool_,
    "group_node": np.int32, "group_from_left": np.bool_, "group_special": np.int8,
    "group_value": np.float64, "group_value_right": np.float64,
    "group_share_left": np.float64, "group_share_right": np.float64,
    "slot_start": np.int32, "slot_count": np.int8, "slot_feature": np.int32,
    "slot_zero": np.float64,
}  # fmt: skip

#: pairs are formed where the paths have at most this many features: all of them (the
#: kernel treats pairs of any depth alike)
PAIR_MAX = MAX_UNIQUE


#: the forest is cut into this many blocks of whole trees (as many groups each): one
#: lead's trees can go to as many threads
BLOCKS = 8
#: groups of a bucket computed together, stage by stage (see _bucket)
CHUNK = 32
#: a numeric split's rule bits: which state of the row's value sends it the default way,
#: and that way (see _numeric_splits)
RULE_ZERO, RULE_NAN, RULE_DEFAULT_LEFT = 1, 2, 4
#: a group's or mask step's edge byte: the slot (bits 0–5) and, bit 7, "is a left child"
EDGE_LEFT = 128


class _Blocks(NamedTuple):
    """The forest as the SHAP kernel reads it, cut into blocks of whole trees.

    Each block's splits are decided in two compact runs (numeric, categorical), then its
    path masks computed level by level (a node's parent is never the node just before it,
    so no step waits for the previous one). Its groups come in *buckets* of one size (path
    features) and kind (leaf or pair), which the kernel runs side by side, without
    branching. A bucket's slots are stored feature position first: slot ``k`` of its group
    ``j`` is at ``bucket_slot + k · n + j`` (``n`` groups), so a stage reads them in a row;
    a pair's split feature is its last slot.

    A NamedTuple, so that numba takes it whole as one argument."""

    block_node: np.ndarray  # int64 (blocks + 1): each block's first internal node
    block_bucket: np.ndarray  # int64 (blocks + 1): each block's first bucket
    block_numeric: np.ndarray  # int64 (blocks + 1): each block's first numeric split
    block_categorical: np.ndarray  # int64 (blocks + 1): each block's first categorical split
    # numeric splits
    numeric_node: np.ndarray  # int32
    numeric_feature: np.ndarray  # int32: column of the input row
    numeric_threshold: np.ndarray  # float64
    numeric_rule: np.ndarray  # uint8: RULE_* bits
    # categorical splits
    categorical_node: np.ndarray  # int32
    categorical_feature: np.ndarray  # int32
    categorical_start: np.ndarray  # int32: first 32-bit word of the bitset
    categorical_words: np.ndarray  # int32: its number of words
    bitsets: np.ndarray  # uint32
    # path masks, level by level within each block
    mask_node: np.ndarray  # int32
    mask_parent: np.ndarray  # int32: the number of nodes (a node always "everyone") for a root
    mask_edge: np.ndarray  # uint8: the parent's slot, EDGE_LEFT for a left child
    # buckets
    bucket_size: np.ndarray  # int64: the number of unique features on its paths
    bucket_pair: np.ndarray  # bool: pairs of sibling leaves (else single leaves)
    bucket_group: np.ndarray  # int64 (buckets + 1): each bucket's first group
    bucket_slot: np.ndarray  # int64: each bucket's first slot
    # groups, in bucket order
    group_node: np.ndarray  # int32: a leaf's parent, or the pair's parent
    group_edge: np.ndarray  # uint8: a leaf's edge; for a pair, the path slot of its split
    group_value: np.ndarray  # float64: the leaf's value; a pair's left leaf's
    group_value_right: np.ndarray  # float64: a pair's right leaf's value
    group_mix: np.ndarray  # float64: a pair's v_left · share_left + v_right · share_right
    # slots, in bucket order, feature position first
    slot_feature: np.ndarray  # int32
    slot_zero: np.ndarray  # float64: r, the share of training rows along its edges


@numba.njit(cache=True, nogil=True)
def _depths(parent: np.ndarray) -> np.ndarray:
    depth = np.zeros(len(parent), dtype=np.int64)
    for node in range(len(parent)):  # parents first
        if parent[node] >= 0:
            depth[node] = depth[parent[node]] + 1
    return depth


def _blocked(a: _Arrays, n_blocks: int) -> _Blocks:
    """Cut the forest into (up to) ``n_blocks`` runs of whole trees with about as many
    groups each, and lay each block out for the kernel (see :class:`_Blocks`)."""
    n_nodes, n_groups, n_trees = len(a.feature), len(a.group_node), len(a.roots)
    cuts = np.searchsorted(a.tree_groups, np.linspace(0, n_groups, n_blocks + 1)[1:-1])
    trees = [0, *sorted({int(c) for c in cuts} - {0, n_trees}), n_trees]
    node_at = np.append(a.roots, n_nodes).astype(np.int64)
    group_at = np.append(a.tree_groups, n_groups).astype(np.int64)
    block_node, block_group = node_at[trees], group_at[trees]

    # splits: numeric and categorical runs per block (nodes stay in order within a run)
    numeric = np.flatnonzero(a.kind == NUMERIC)
    categorical = np.flatnonzero(a.kind == CATEGORICAL)
    rule = np.zeros(n_nodes, dtype=np.uint8)
    rule[a.missing == MISSING_ZERO] |= RULE_ZERO
    rule[a.missing == MISSING_NAN] |= RULE_NAN
    rule[a.default_left] |= RULE_DEFAULT_LEFT
    # path masks: by block, then depth (a stable sort keeps tree order within a level)
    node_block = np.searchsorted(block_node[1:-1], np.arange(n_nodes), side="right")
    mask_node = np.lexsort((_depths(a.parent), node_block))
    up = a.parent[mask_node]
    mask_parent = np.where(up < 0, n_nodes, up)
    mask_edge = np.where(up < 0, 0, a.slot[np.maximum(up, 0)]) | (a.from_left[mask_node] << 7)

    # groups: by block, kind and size
    block = np.searchsorted(block_group[1:-1], np.arange(n_groups), side="right")
    size = a.slot_count.astype(np.int64)
    pair = a.group_special >= 0
    order = np.lexsort((size, pair, block))
    key = (block * 2 + pair) * (MAX_UNIQUE + 1) + size
    starts = np.flatnonzero(np.diff(key[order], prepend=-1)) if n_groups else np.zeros(0, int)
    bucket_group = np.append(starts, n_groups).astype(np.int64)
    bucket_size = size[order][starts]
    bucket_pair = pair[order][starts]
    counts = np.diff(bucket_group)
    bucket_slot = np.concatenate([[0], np.cumsum(counts * bucket_size)]).astype(np.int64)
    # where each bucket-ordered slot comes from: bucket by bucket, feature position first;
    # a pair's split slot moves to the end
    source = np.empty(int(bucket_slot[-1]), dtype=np.int64)
    for b, (lo, hi) in enumerate(itertools.pairwise(bucket_group)):
        d = int(bucket_size[b])
        position = np.arange(d)[:, None]
        if bucket_pair[b]:
            special = a.group_special[order[lo:hi]].astype(np.int64)[None, :]
            position = np.where(position == d - 1, special, position + (position >= special))
        firsts = a.slot_start[order[lo:hi]].astype(np.int64)[None, :]
        source[bucket_slot[b] : bucket_slot[b + 1]] = (firsts + position).ravel()
    block_bucket = np.searchsorted(block[order][starts], np.arange(len(trees)))
    g = order
    parent_slot = a.slot[a.group_node[g]].astype(np.uint8)
    leaf_edge = parent_slot | (a.group_from_left[g].astype(np.uint8) << 7)
    group_edge = np.where(pair[g], a.group_special[g].astype(np.uint8), leaf_edge)
    mix = a.group_value * a.group_share_left + a.group_value_right * a.group_share_right
    return _Blocks(
        block_node=block_node,
        block_bucket=block_bucket.astype(np.int64),
        block_numeric=np.searchsorted(numeric, block_node).astype(np.int64),
        block_categorical=np.searchsorted(categorical, block_node).astype(np.int64),
        numeric_node=numeric.astype(np.int32),
        numeric_feature=a.feature[numeric],
        numeric_threshold=a.threshold[numeric],
        numeric_rule=rule[numeric],
        categorical_node=categorical.astype(np.int32),
        categorical_feature=a.feature[categorical],
        categorical_start=a.cat_start[categorical],
        categorical_words=a.cat_words[categorical],
        bitsets=a.bitsets,
        mask_node=mask_node.astype(np.int32),
        mask_parent=mask_parent.astype(np.int32),
        mask_edge=mask_edge.astype(np.uint8),
        bucket_size=bucket_size,
        bucket_pair=bucket_pair,
        bucket_group=bucket_group,
        bucket_slot=bucket_slot[:-1],
        group_node=a.group_node[g],
        group_edge=group_edge.astype(np.uint8),
        group_value=a.group_value[g],
        group_value_right=a.group_value_right[g],
        group_mix=np.where(pair, mix, 0.0)[g],
        slot_feature=a.slot_feature[source],
        slot_zero=a.slot_zero[source],
    )


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
        self.blocks = _blocked(arrays, BLOCKS)

    @classmethod
    def from_lightgbm(cls, boosters: Sequence[Any]) -> CompiledForest:
        """Compile fitted ``lightgbm.Booster`` objects (binary objective) into one forest
        whose outputs are their average; booster ``k`` reads columns
        ``k·n … (k+1)·n − 1`` of the row, ``n`` being its number of features.

        Reads LightGBM's text model (``model_to_string``): the JSON dump is ~7× slower
        to produce and parse, and a reload while the service answers should be short.
        A booster parsed before (see :func:`parsed_trees`) is not parsed again."""
        parsed: list[tuple[_Trees, int]] = []
        offset = 0
        for booster in boosters:
            header, trees = parsed_trees(booster)
            if header.get("num_tree_per_iteration", "1") != "1":
                raise ValueError("only single-output (binary) LightGBM models compile")
            parsed.append((trees, offset))
            offset += int(header["max_feature_idx"]) + 1
        arrays, base, constant = _flatten(parsed, scale=1.0 / len(boosters))
        return cls(arrays, offset, base, constant)

    def _rows(self, rows: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.n_columns:
            raise ValueError(f"rows must be (n, {self.n_columns}), got {rows.shape}")
        return rows

    def _explain_blocks(
        self, rows: np.ndarray, lo: int, hi: int, started: threading.Event | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw scores and SHAP values of ``rows`` from the trees of blocks ``lo…hi − 1``."""
        raw = np.zeros(len(rows))
        values = np.zeros((len(rows), self.n_columns))
        n_nodes = len(self.arrays.feature)
        if started is not None:
            started.set()
        _explain_rows(rows, lo, hi, n_nodes, self.blocks, self._nodes, self._weights, raw, values)
        return raw, values

    def explain(
        self, rows: np.ndarray, pool: Executor | None = None, parts: int = 1
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """Raw log-odds ``(n,)``, SHAP values per input column ``(n, n_columns)`` and the
        base value, for rows ``(n, n_columns)``; ``raw == base + values.sum(axis=1)``.

        With a ``pool`` and ``parts`` > 1 the work is cut in ``parts``, all but the first
        computed on the pool's threads (the kernel releases the GIL): several rows are cut
        by rows; one row's trees into runs of blocks (at most :data:`BLOCKS`), so that one
        lead uses several cores. Either way the parts are added in one order: the same
        rows get the same bits."""
        rows = self._rows(rows)
        if pool is None or parts < 2:
            return self._explain_part(rows)
        if len(rows) > 1:
            done = _by_rows(pool, self._explain_part, rows, parts)
            raws, values, _ = zip(*done, strict=True)
            return np.concatenate(raws), np.concatenate(values), self.base
        n_blocks = len(self.blocks.block_node) - 1
        parts = min(parts, n_blocks)
        cuts = [i * n_blocks // parts for i in range(parts + 1)]
        others = [
            pool.submit(self._explain_part, rows, lo, hi) for lo, hi in itertools.pairwise(cuts[1:])
        ]
        raw, values, base = self._explain_part(rows, cuts[0], cuts[1])
        for other in others:
            more_raw, more_values, _ = other.result()
            raw += more_raw
            values += more_values
        return raw, values, base

    def begin(
        self, row: np.ndarray, pool: Executor, pool_share: float = 0.5
    ) -> Callable[[], tuple[np.ndarray, np.ndarray, float]]:
        """Start :meth:`explain` of one row: the last ``pool_share`` of its trees at once
        on ``pool``; returns the function that computes the others on the calling thread
        and adds the two parts (in that order, so the same row gets the same bits).

        The caller can do other work before calling it — the service opens the lead's
        store transaction meanwhile, and gives the pool the larger share for that.

        Example
        -------
        >>> finish = forest.begin(row[None, :], shared_pool(), 0.6)  # doctest: +SKIP
        >>> raw, values, base = finish()  # doctest: +SKIP
        """
        rows = self._rows(row)
        if len(rows) != 1:
            raise ValueError(f"begin explains one row, got {len(rows)}")
        n_blocks = len(self.blocks.block_node) - 1
        # the caller keeps at least the first block (which adds the constant part)
        cut = max(1, n_blocks - round(n_blocks * pool_share))
        started = threading.Event()
        other = pool.submit(self._explain_part, rows, cut, n_blocks, started)
        # Wait until the pool's thread is in the kernel, which runs without the GIL: a
        # caller that went on with Python work at once would keep the pool's thread from
        # the interpreter lock it needs to get there (measured: it started only once the
        # caller itself entered the kernel). A busy pool is not waited for long.
        started.wait(START_WAIT_S)

        def finish() -> tuple[np.ndarray, np.ndarray, float]:
            raw, values, base = self._explain_part(rows, 0, cut)
            more_raw, more_values, _ = other.result()
            return raw + more_raw, values + more_values, base

        return finish

    def _explain_part(
        self,
        rows: np.ndarray,
        lo: int = 0,
        hi: int | None = None,
        started: threading.Event | None = None,
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """:meth:`explain` over the trees of blocks ``lo…hi − 1`` (all blocks without
        ``hi``); the constant part of the score is added to the first block's. ``started``
        is set as the kernel is entered."""
        if hi is None:
            hi = len(self.blocks.block_node) - 1
        raw, values = self._explain_blocks(rows, lo, hi, started)
        if lo == 0:
            raw += self.constant
        return raw, values, self.base

    def raw(self, rows: np.ndarray, pool: Executor | None = None, parts: int = 1) -> np.ndarray:
        """Raw log-odds ``(n,)`` only: the average of the boosters' raw scores. With a
        ``pool``, the rows are cut in ``parts`` (see :meth:`explain`)."""
        rows = self._rows(rows)
        if pool is not None and parts > 1 and len(rows) > 1:
            return np.concatenate(_by_rows(pool, self.raw, rows, parts))
        a = self.arrays
        raw = np.full(len(rows), self.constant)
        _raw_rows(
            rows, a.feature, a.threshold, a.kind, a.missing, a.default_left, a.cat_start,
            a.cat_words, a.bitsets, a.child_left, a.child_right, a.roots, a.leaf_value, raw,
        )  # fmt: skip
        return raw


def _by_rows(
    pool: Executor, run: Callable[[np.ndarray], _T], rows: np.ndarray, parts: int
) -> list[_T]:
    """``run`` on ``parts`` runs of ``rows``, all but the first on ``pool``, in order."""
    chunks = np.array_split(rows, min(parts, len(rows)))
    others = [pool.submit(run, chunk) for chunk in chunks[1:]]
    return [run(chunks[0]), *(other.result() for other in others)]


#: where a Booster keeps its parsed trees: an attribute of the Booster, which LightGBM's
#: pickling keeps (``Booster.__getstate__`` copies the instance's attributes), so a model
#: saved after :func:`parsed_trees` loads with its trees parsed — a reload in the service
#: then takes ~10 ms of the interpreter for the trees instead of ~150 ms
_PARSED_ATTRIBUTE = "_leadscore_parsed_trees"
#: the layout of what is kept; a kept parse of another layout is parsed again
_PARSED_LAYOUT = 1


def parsed_trees(booster: Any) -> tuple[dict[str, str], _Trees]:
    """A ``lightgbm.Booster``'s header and trees from its text model, parsed once and kept
    on the booster.

    A kept parse is used only while it still describes the booster: same layout, number
    of trees and iterations, and the same values in a few leaves read back from LightGBM
    (a booster trained further, or refitted, is parsed again)."""
    key = (_PARSED_LAYOUT, booster.current_iteration(), booster.num_trees())
    kept = booster.__dict__.get(_PARSED_ATTRIBUTE)
    if kept is not None and kept[0] == key and _same_leaves(booster, kept[2]):
        return kept[1], kept[2]
    header, trees = _parse_model(booster.model_to_string())
    booster.__dict__[_PARSED_ATTRIBUTE] = (key, header, trees)
    return header, trees


def _same_leaves(booster: Any, trees: _Trees) -> bool:
    """Whether the first and last leaf of a few trees hold the parsed values."""
    firsts = np.concatenate([[0], np.cumsum(trees.leaves)])
    values = trees.fields["leaf_value"]
    n = len(trees.leaves)
    for tree in sorted({0, n // 3, (2 * n) // 3, n - 1} if n else set()):
        for leaf in (0, int(trees.leaves[tree]) - 1):
            if booster.get_leaf_output(tree, leaf) != values[firsts[tree] + leaf]:
                return False
    return True


def keep_parsed_trees(pipeline: Any) -> None:
    """Parse the trees of every LightGBM booster in a fitted pipeline or bag of them (a
    ``FoldEnsemble``'s ``members_``), so that they are saved parsed with the model."""
    try:
        import lightgbm
    except ImportError:  # pragma: no cover - LightGBM is a dependency
        return
    for member in getattr(pipeline, "members_", [pipeline]):
        steps = getattr(member, "named_steps", {})
        booster = getattr(steps.get("model"), "booster_", None)
        if isinstance(booster, lightgbm.Booster):
            parsed_trees(booster)


_SPLIT_FIELDS = ("split_feature", "threshold", "decision_type", "left_child", "right_child",
                 "internal_count")  # fmt: skip
_LEAF_FIELDS = ("leaf_value", "leaf_count")
_CAT_FIELDS = ("cat_boundaries", "cat_threshold")


@dataclass(frozen=True)
class _Trees:
    """A booster's trees: per tree its number of leaves and of categorical splits, and
    each field of LightGBM's text model, all trees one after the other."""

    leaves: np.ndarray
    cats: np.ndarray
    fields: dict[str, np.ndarray]


def _parse_model(text: str) -> tuple[dict[str, str], _Trees]:
    """LightGBM's text model → its header and its trees.

    Each field is parsed for all trees at once (one C parse of a long string, no array
    per tree): this runs while the service answers requests."""
    blocks = text.split("\nTree=")
    header = dict(line.split("=", 1) for line in blocks[0].splitlines() if "=" in line)
    texts: dict[str, list[str]] = {n: [] for n in (*_SPLIT_FIELDS, *_LEAF_FIELDS, *_CAT_FIELDS)}
    leaves, cats = [], []
    for block in blocks[1:]:
        block = block.split("\nend of trees", 1)[0]
        fields = dict(line.split("=", 1) for line in block.splitlines()[1:] if "=" in line)
        leaves.append(int(fields["num_leaves"]))
        cats.append(int(fields.get("num_cat", "0")))
        for name, found in texts.items():
            if fields.get(name):
                found.append(fields[name])
    n_leaves, n_cats = np.array(leaves, dtype=np.int64), np.array(cats, dtype=np.int64)
    expected = dict.fromkeys(_SPLIT_FIELDS, int((n_leaves - 1).sum()))
    expected |= dict.fromkeys(_LEAF_FIELDS, int(n_leaves.sum()))
    expected["cat_boundaries"] = int((n_cats + (n_cats > 0)).sum())
    parsed = {}
    for name, found in texts.items():
        numbers = np.fromstring(" ".join(found), sep=" ") if found else np.zeros(0)
        if name in expected and len(numbers) != expected[name]:
            raise ValueError(f"unreadable LightGBM model: field {name!r}")
        parsed[name] = numbers
    return header, _Trees(n_leaves, n_cats, parsed)


def _flatten(parsed: list[tuple[_Trees, int]], scale: float) -> tuple[_Arrays, float, float]:
    """Boosters' trees (each with the column offset of its slice of the row) → the flat
    forest, its base value (expected raw score) and its constant part."""
    leaves = np.concatenate([t.leaves for t, _ in parsed])
    cats = np.concatenate([t.cats for t, _ in parsed])
    offsets = np.concatenate([np.full(len(t.leaves), o, dtype=np.int64) for t, o in parsed])
    field = {
        name: np.concatenate([t.fields[name] for t, _ in parsed])
        for name in (*_SPLIT_FIELDS, *_LEAF_FIELDS, *_CAT_FIELDS)
    }
    values, counts = field["leaf_value"] * scale, field["leaf_count"]
    split_at = np.concatenate([[0], np.cumsum(leaves - 1)])
    leaf_at = np.concatenate([[0], np.cumsum(leaves)])
    single = leaves == 1  # trees without a split: constants
    constant = float(values[leaf_at[:-1][single]].sum())
    # a tree's expected value: each leaf's share of training rows × its value
    weighted = np.add.reduceat(values * counts, leaf_at[:-1]) if len(values) else values
    roots = field["internal_count"][split_at[:-1][~single]]
    base = constant + float((weighted[~single] / roots).sum())
    # category bitsets: each tree's boundaries moved to its words' place in one array
    n_bounds = cats + (cats > 0)
    bound_at = np.concatenate([[0], np.cumsum(n_bounds)])
    ends = field["cat_boundaries"][bound_at[1:][cats > 0] - 1]
    words = np.zeros(len(leaves), dtype=np.int64)
    words[cats > 0] = ends
    word_at = np.concatenate([[0], np.cumsum(words)])
    boundaries = field["cat_boundaries"] + np.repeat(word_at[:-1], n_bounds)
    features = field["split_feature"]
    width = int(offsets.max() + features.max() + 1) if len(features) else 1  # columns bound
    inputs = (
        split_at, leaf_at, bound_at, offsets, features.astype(np.int64),
        field["threshold"], field["decision_type"].astype(np.int64),
        field["left_child"].astype(np.int64), field["right_child"].astype(np.int64),
        field["internal_count"], values, counts, boundaries.astype(np.int64), width,
    )  # fmt: skip
    n_trees, n_splits = int((~single).sum()), int((leaves - 1).sum())
    n_leaves = int(leaves[~single].sum())
    empty = tuple(np.zeros(0, dtype=_DTYPES[name]) for name in _WALK_OUTPUTS)
    counted = _walk_trees(*inputs, False, empty)  # first count groups and slots, then fill
    n_groups, n_slots = int(counted[0]), int(counted[1])
    if n_slots < 0:
        raise ValueError(f"a tree path uses more than {MAX_UNIQUE} features")
    sizes = dict.fromkeys(_WALK_OUTPUTS, n_splits)
    sizes |= {"roots": n_trees, "tree_groups": n_trees}
    sizes |= dict.fromkeys(("slot_feature", "slot_zero"), n_slots)
    sizes |= dict.fromkeys(("leaf_value", "leaf_parent", "leaf_from_left"), n_leaves)
    sizes |= {name: n_groups for name in _WALK_OUTPUTS if name.startswith("group_")}
    sizes |= dict.fromkeys(("slot_start", "slot_count"), n_groups)
    out = {name: np.zeros(sizes[name], dtype=_DTYPES[name]) for name in _WALK_OUTPUTS}
    _walk_trees(*inputs, True, tuple(out[name] for name in _WALK_OUTPUTS))
    bitsets = field["cat_threshold"].astype(np.uint32)
    arrays = _Arrays(bitsets=bitsets if len(bitsets) else np.zeros(1, np.uint32), **out)
    return arrays, base, constant


_WALK_OUTPUTS = (
    "feature", "threshold", "kind", "missing", "default_left", "cat_start", "cat_words",
    "child_left", "child_right", "parent", "from_left", "slot", "roots", "tree_groups",
    "leaf_value", "leaf_parent", "leaf_from_left", "group_node", "group_from_left",
    "group_special", "group_value", "group_value_right", "group_share_left",
    "group_share_right", "slot_start", "slot_count", "slot_feature", "slot_zero",
)  # fmt: skip


@numba.njit(cache=True, nogil=True)
def _walk_trees(
    split_at, leaf_at, boundary_at, offsets, split_feature, threshold, decision, left_child,
    right_child, internal_count, leaf_value, leaf_count, boundaries, width, fill, out,
):  # fmt: skip
    """Lay the trees out parents first (depth first); for each group (a leaf, or two
    sibling leaves) the unique features of its path with their share of training rows;
    into ``out`` (the arrays of ``_WALK_OUTPUTS``). Without ``fill``, only count.
    Returns (groups, slots); slots −1 if a path has more than MAX_UNIQUE features."""
    (
        feature_o, threshold_o, kind_o, missing_o, default_left_o, cat_start_o, cat_words_o,
        child_left_o, child_right_o, parent_o, from_left_o, slot_o, roots_o, tree_groups_o,
        leaf_value_o, leaf_parent_o, leaf_from_left_o, group_node_o, group_from_left_o,
        group_special_o, group_value_o, group_value_right_o, group_share_left_o,
        group_share_right_o, slot_start_o, slot_count_o, slot_feature_o, slot_zero_o,
    ) = out  # fmt: skip
    counts = np.zeros(2, dtype=np.int64)
    depth_max = 1
    for t in range(len(offsets)):
        depth_max = max(depth_max, split_at[t + 1] - split_at[t] + 1)
    # the path from the root: the column of each ancestor's split, the share of rows
    # along the edge taken from it, and (per column) its slot on the path
    path_col = np.empty(depth_max, dtype=np.int64)
    path_share = np.empty(depth_max)
    slot_of = np.full(width, -1, dtype=np.int64)
    uniq = np.empty(depth_max + 1, dtype=np.int64)
    zero = np.empty(depth_max + 1)
    # the stack: local reference, parent's global index, came from the left, depth,
    # share of the incoming edge
    stack_ref = np.empty(depth_max * 2 + 2, dtype=np.int64)
    stack_parent = np.empty(depth_max * 2 + 2, dtype=np.int64)
    stack_left = np.empty(depth_max * 2 + 2, dtype=np.bool_)
    stack_depth = np.empty(depth_max * 2 + 2, dtype=np.int64)
    stack_share = np.empty(depth_max * 2 + 2)
    n_nodes = n_leaves = n_groups = n_slots = n_trees = 0
    for t in range(len(offsets)):
        s0, l0, offset = split_at[t], leaf_at[t], offsets[t]
        if split_at[t + 1] == s0:  # a single leaf: a constant, not a tree to walk
            continue
        if fill:
            roots_o[n_trees] = n_nodes
            tree_groups_o[n_trees] = n_groups
        n_trees += 1
        top = 0
        stack_ref[0], stack_parent[0], stack_left[0], stack_depth[0] = 0, -1, False, 0
        stack_share[0] = 1.0
        while top >= 0:
            ref, parent, came_left = stack_ref[top], stack_parent[top], stack_left[top]
            depth, share = stack_depth[top], stack_share[top]
            top -= 1
            if depth > 0:
                path_share[depth - 1] = share
            # the unique columns of the path so far, first appearance first
            n_uniq = 0
            for j in range(depth):
                column = path_col[j]
                k = slot_of[column]
                if k < 0:
                    slot_of[column] = n_uniq
                    uniq[n_uniq] = column
                    zero[n_uniq] = path_share[j]
                    n_uniq += 1
                else:
                    zero[k] *= path_share[j]
            if n_uniq > MAX_UNIQUE:
                counts[1] = -1
                return counts
            if ref < 0:  # a leaf on its own
                if fill:
                    leaf_value_o[n_leaves] = leaf_value[l0 + ~ref]
                    leaf_parent_o[n_leaves] = parent
                    leaf_from_left_o[n_leaves] = came_left
                    group_node_o[n_groups] = parent
                    group_from_left_o[n_groups] = came_left
                    group_special_o[n_groups] = -1
                    group_value_o[n_groups] = leaf_value[l0 + ~ref]
                    slot_start_o[n_groups] = n_slots
                    slot_count_o[n_groups] = n_uniq
                    for k in range(n_uniq):
                        slot_feature_o[n_slots + k] = uniq[k]
                        slot_zero_o[n_slots + k] = zero[k]
                n_leaves += 1
                n_groups += 1
                n_slots += n_uniq
            else:
                node = s0 + ref
                column = offset + split_feature[node]
                mine = slot_of[column] if slot_of[column] >= 0 else n_uniq
                if mine >= MAX_UNIQUE:
                    counts[1] = -1
                    return counts
                here = n_nodes
                if fill:
                    kind = decision[node] & 1
                    feature_o[here] = column
                    kind_o[here] = kind
                    missing_o[here] = (decision[node] >> 2) & 3
                    default_left_o[here] = (decision[node] & 2) != 0
                    if kind:  # the threshold indexes the tree's bitsets
                        which = boundary_at[t] + np.int64(threshold[node])
                        cat_start_o[here] = boundaries[which]
                        cat_words_o[here] = boundaries[which + 1] - boundaries[which]
                    else:
                        threshold_o[here] = threshold[node]
                    parent_o[here] = parent
                    from_left_o[here] = came_left
                    slot_o[here] = mine
                    if parent >= 0:  # our parent learns where this child went
                        if came_left:
                            child_left_o[parent] = here
                        else:
                            child_right_o[parent] = here
                n_nodes += 1
                path_col[depth] = column
                count = internal_count[node]
                lc, rc = left_child[node], right_child[node]
                width_here = n_uniq + (1 if mine == n_uniq else 0)
                if lc < 0 and rc < 0 and width_here <= PAIR_MAX:
                    # two sibling leaves: one group; the split's slot keeps the share of
                    # rows along its edges above (1 for a new feature)
                    if fill:
                        for side in range(2):
                            leaf_value_o[n_leaves + side] = leaf_value[l0 + ~(lc, rc)[side]]
                            leaf_parent_o[n_leaves + side] = here
                            leaf_from_left_o[n_leaves + side] = side == 0
                        group_node_o[n_groups] = here
                        group_special_o[n_groups] = mine
                        group_value_o[n_groups] = leaf_value[l0 + ~lc]
                        group_value_right_o[n_groups] = leaf_value[l0 + ~rc]
                        group_share_left_o[n_groups] = leaf_count[l0 + ~lc] / count
                        group_share_right_o[n_groups] = leaf_count[l0 + ~rc] / count
                        slot_start_o[n_groups] = n_slots
                        slot_count_o[n_groups] = width_here
                        for k in range(n_uniq):
                            slot_feature_o[n_slots + k] = uniq[k]
                            slot_zero_o[n_slots + k] = zero[k]
                        if mine == n_uniq:
                            slot_feature_o[n_slots + mine] = column
                            slot_zero_o[n_slots + mine] = 1.0
                    n_leaves += 2
                    n_groups += 1
                    n_slots += width_here
                else:
                    # right first, so the left child comes out of the stack first
                    for is_left in (False, True):
                        child = lc if is_left else rc
                        rows = internal_count[s0 + child] if child >= 0 else leaf_count[l0 + ~child]
                        top += 1
                        stack_ref[top], stack_parent[top], stack_left[top] = child, here, is_left
                        stack_depth[top], stack_share[top] = depth + 1, rows / count
            for k in range(n_uniq):
                slot_of[uniq[k]] = -1
    if fill:
        # leaves' references in their parents: ~leaf
        for leaf in range(n_leaves):
            up = leaf_parent_o[leaf]
            if leaf_from_left_o[leaf]:
                child_left_o[up] = ~leaf
            else:
                child_right_o[up] = ~leaf
    counts[0], counts[1] = n_groups, n_slots
    return counts


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


# The SHAP kernel. Its loops count with unsigned integers (``_U``): numba then indexes
# arrays without correcting negative indices, which otherwise costs a shift, a mask and
# an add per access and took over half of the kernel's time.
_U = np.uint64


@numba.njit(cache=True, nogil=True)
def _columns(x, zeroed, state, category):  # fmt: skip
    """Each input value once, as the splits read it: the number (NaN as 0), its state
    (bit 0: zero or NaN, bit 1: NaN — see ``RULE_*``) and its category code (−1: none)."""
    for c in range(_U(len(x))):
        value = x[c]
        nan = math.isnan(value)
        zero = 0.0 if nan else value
        zeroed[c] = zero
        state[c] = np.uint8(abs(zero) <= ZERO_THRESHOLD) | (np.uint8(nan) << np.uint8(1))
        # truncated toward zero, as LightGBM's C cast: −0.5 is category 0
        category[c] = -1 if nan else np.int64(value)


@numba.njit(cache=True, nogil=True)
def _numeric_splits(lo, hi, node, feature, threshold, rule, zeroed, state, left):  # fmt: skip
    """LightGBM's NumericalDecision for splits ``lo…hi − 1``, without a branch."""
    for i in range(_U(lo), _U(hi)):
        c = _U(feature[i])
        bits = rule[i]
        default = (state[c] & bits) != 0
        left[_U(node[i])] = (bits >> 2) if default else np.uint8(zeroed[c] <= threshold[i])


@numba.njit(cache=True, nogil=True)
def _categorical_splits(lo, hi, node, feature, start, words, bitsets, category, left):  # fmt: skip
    """LightGBM's CategoricalDecision for splits ``lo…hi − 1``."""
    for i in range(_U(lo), _U(hi)):
        code = category[_U(feature[i])]
        word = code >> 5
        hit = False
        if code >= 0 and word < words[i]:
            hit = (bitsets[_U(start[i] + word)] >> np.uint32(code & 31)) & np.uint32(1) == 1
        left[_U(node[i])] = np.uint8(hit)


@numba.njit(cache=True, nogil=True)
def _path_masks(lo, hi, node, parent, edge, left, masks):  # fmt: skip
    """Bit ``s`` of a node's mask: the lead follows every edge so far on the path's
    ``s``-th feature. Level by level, so no step waits for the one before."""
    for i in range(_U(lo), _U(hi)):
        up = _U(parent[i])
        e = edge[i]
        stray = _U(left[up] ^ (e >> 7))
        masks[_U(node[i])] = masks[up] & ~(stray << _U(e & 63))


@numba.njit(cache=True, nogil=True)
def _sweep(rate, delta, kept, d, m, nodes, weights):  # fmt: skip
    """``kept[k, j] = ∫ Π_{i≠k} (rate[i, j] + delta[i, j] t) dt`` for ``d`` features and
    ``m`` groups: the written-out sweep for ``d``, or loops for deeper paths."""
    if d == 1:
        sweeps.sweep_d1(rate, delta, kept, m, nodes, weights)
    elif d == 2:
        sweeps.sweep_d2(rate, delta, kept, m, nodes, weights)
    elif d == 3:
        sweeps.sweep_d3(rate, delta, kept, m, nodes, weights)
    elif d == 4:
        sweeps.sweep_d4(rate, delta, kept, m, nodes, weights)
    elif d == 5:
        sweeps.sweep_d5(rate, delta, kept, m, nodes, weights)
    elif d == 6:
        sweeps.sweep_d6(rate, delta, kept, m, nodes, weights)
    elif d == 7:
        sweeps.sweep_d7(rate, delta, kept, m, nodes, weights)
    elif d == 8:
        sweeps.sweep_d8(rate, delta, kept, m, nodes, weights)
    else:
        ud, um = _U(d), _U(m)
        prefix, forward, backward = np.empty((d, m)), np.empty(m), np.empty(m)
        for k in range(ud):
            for j in range(um):
                kept[k, j] = 0.0
        for q in range(_U((d + 1) // 2)):
            t, w = nodes[q], weights[q]
            for j in range(um):
                forward[j] = w
                backward[j] = 1.0
            for k in range(ud):
                for j in range(um):
                    prefix[k, j] = forward[j]
                    forward[j] *= rate[k, j] + delta[k, j] * t
            for k in range(d - 1, -1, -1):
                for j in range(um):
                    kept[k, j] += prefix[k, j] * backward[j]
                    backward[j] *= rate[k, j] + delta[k, j] * t


@numba.njit(cache=True, nogil=True)
def _bucket(
    d, pair, first, n, slot_at, left, masks, group_node, group_edge, group_value,
    group_value_right, group_mix, slot_feature, slot_zero, nodes, weights, rate, delta,
    kept, bits, scale, side, acc,
):  # fmt: skip
    """One bucket's SHAP values into ``acc`` (four lanes, so that consecutive additions to
    one feature do not wait for each other); returns its part of the raw score.

    Per chunk of :data:`CHUNK` groups, stage by stage: the lead's path bits, each slot's
    factor ``r + (o − r) t`` (as ``rate`` and ``delta``), for a pair the split's slot as
    both leaves' terms, the quadrature, then weight × integral per slot."""
    one = _U(1)
    ud, un = _U(d), _U(n)
    full = ((one << (ud - one)) << one) - one  # two shifts: defined for d = 64 too
    last = ud - one
    total = 0.0
    for start in range(_U(0), un, _U(CHUNK)):
        m = min(_U(CHUNK), un - start)
        g0 = _U(first) + start
        if pair:
            for j in range(m):
                g = g0 + j
                up = _U(group_node[g])
                mask = masks[up] & full
                goes_left = left[up]
                if mask == full:  # the lead's own leaf: its value is part of the score
                    total += group_value[g] if goes_left != 0 else group_value_right[g]
                # the split's bit moves to the last slot, where its feature is stored
                s = _U(group_edge[g])
                kept_low = mask & ((one << s) - one)
                moved = kept_low | (((mask >> s) >> one) << s)  # (a shift by 64 is not)
                bits[j] = moved | (((mask >> s) & one) << last)
                side[j] = np.float64(goes_left)
                scale[j] = 1.0
        else:
            for j in range(m):
                g = g0 + j
                up = _U(group_node[g])
                e = group_edge[g]
                stray = _U(left[up] ^ (e >> 7))
                mask = masks[up] & ~(stray << _U(e & 63)) & full
                if mask == full:
                    total += group_value[g]
                bits[j] = mask
                scale[j] = group_value[g]
        at = _U(slot_at) + start
        for k in range(ud):
            for j in range(m):
                r = slot_zero[at + k * un + j]
                rate[k, j] = r
                delta[k, j] = np.float64((bits[j] >> k) & one) - r
        if pair:
            # the split's slot for both leaves: Σ v (r·share (1 − t) + o t), o the leaf's
            # side of the split for a lead on the path above it
            for j in range(m):
                g = g0 + j
                r = rate[last, j]
                on_path = delta[last, j] + r
                mixed = r * group_mix[g]
                side_value = side[j] * group_value[g] + (1.0 - side[j]) * group_value_right[g]
                rate[last, j] = mixed
                delta[last, j] = on_path * side_value - mixed
        _sweep(rate, delta, kept, d, m, nodes, weights)
        # a slot's SHAP value: its leaf's weight v (o − r) times its integral; a pair's
        # weights are their factors' deltas already
        for k in range(ud):
            for j in range(m):
                kept[k, j] *= scale[j] * delta[k, j]
        for k in range(ud):
            for j in range(m):
                acc[j & _U(3), _U(slot_feature[at + k * un + j])] += kept[k, j]
    return total


@numba.njit(cache=True, nogil=True)
def _explain_rows(rows, block_lo, block_hi, n_nodes, b, nodes, weights, raw, values):  # fmt: skip
    """Add each row's raw score to ``raw`` and its SHAP values to ``values``, over the
    trees of blocks ``block_lo…block_hi − 1`` of ``b`` (:class:`_Blocks`)."""
    n_columns = rows.shape[1]
    left = np.zeros(n_nodes + 1, dtype=np.uint8)  # the last node: every root's parent
    masks = np.empty(n_nodes + 1, dtype=np.uint64)
    masks[n_nodes] = ~_U(0)
    zeroed, state = np.empty(n_columns), np.empty(n_columns, dtype=np.uint8)
    category = np.empty(n_columns, dtype=np.int64)
    rate, delta = np.empty((MAX_UNIQUE, CHUNK)), np.empty((MAX_UNIQUE, CHUNK))
    kept = np.empty((MAX_UNIQUE, CHUNK))
    bits = np.empty(CHUNK, dtype=np.uint64)
    scale, side = np.empty(CHUNK), np.empty(CHUNK)
    acc = np.zeros((4, n_columns))
    for row in range(rows.shape[0]):
        _columns(rows[row], zeroed, state, category)
        acc[:] = 0.0
        total = 0.0
        for block in range(block_lo, block_hi):
            _numeric_splits(
                b.block_numeric[block], b.block_numeric[block + 1], b.numeric_node,
                b.numeric_feature, b.numeric_threshold, b.numeric_rule, zeroed, state, left,
            )  # fmt: skip
            _categorical_splits(
                b.block_categorical[block], b.block_categorical[block + 1],
                b.categorical_node, b.categorical_feature, b.categorical_start,
                b.categorical_words, b.bitsets, category, left,
            )  # fmt: skip
            _path_masks(
                b.block_node[block], b.block_node[block + 1], b.mask_node, b.mask_parent,
                b.mask_edge, left, masks,
            )  # fmt: skip
            for bucket in range(b.block_bucket[block], b.block_bucket[block + 1]):
                d = np.int64(b.bucket_size[bucket])
                first = b.bucket_group[bucket]
                total += _bucket(
                    d, b.bucket_pair[bucket], first, b.bucket_group[bucket + 1] - first,
                    b.bucket_slot[bucket], left, masks, b.group_node, b.group_edge,
                    b.group_value, b.group_value_right, b.group_mix, b.slot_feature,
                    b.slot_zero, nodes[d], weights[d], rate, delta, kept, bits, scale, side,
                    acc,
                )  # fmt: skip
        out = values[row]
        for c in range(n_columns):
            out[c] += (acc[0, c] + acc[1, c]) + (acc[2, c] + acc[3, c])
        raw[row] += total
