"""The flat forest as the SHAP kernel reads it: blocks of whole trees, buckets of groups.

The forest is cut into :data:`BLOCKS` runs of whole trees with about as many groups each,
so that one lead's trees can go to as many threads. Within a block the kernel never
branches on the group it is computing:

* splits are decided in two compact runs (numeric ones without a branch, then categorical
  ones), and path masks are computed level by level (a node's parent is never the node
  just before it, so no step waits for the one before);
* groups come in *buckets* of one size (unique features on the path) and kind (leaf or
  pair), run side by side; a bucket's slots are stored feature position first, so a
  stage over its groups reads them in a row, and a pair's split feature is stored last,
  so that its two leaves' terms are formed for many pairs at once.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numba
import numpy as np

from leadscore.scoring.treeshap.flat import (
    CATEGORICAL,
    MAX_UNIQUE,
    MISSING_NAN,
    MISSING_ZERO,
    NUMERIC,
    Arrays,
)

#: the forest is cut into this many blocks of whole trees (as many groups each): one
#: lead's trees can go to as many threads
BLOCKS = 8
#: a numeric split's rule bits: which state of the row's value sends it the default way,
#: and that way (see :func:`leadscore.scoring.treeshap.kernels.numeric_splits`)
RULE_ZERO, RULE_NAN, RULE_DEFAULT_LEFT = 1, 2, 4
#: a group's or mask step's edge byte: the slot (bits 0–5) and, bit 7, "is a left child"
EDGE_LEFT = 128


class Blocks(NamedTuple):
    """The forest as the SHAP kernel reads it, cut into blocks of whole trees: per block
    its numeric and categorical splits, its path masks level by level, and its buckets of
    groups. A bucket's slots are stored feature position first: slot ``k`` of its group
    ``j`` is at ``bucket_slot + k · n + j`` (``n`` groups); a pair's split feature is its
    last slot.

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


def blocked(a: Arrays, n_blocks: int) -> Blocks:
    """Cut the forest into (up to) ``n_blocks`` runs of whole trees with about as many
    groups each, and lay each block out for the kernel (see :class:`Blocks`)."""
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
    return Blocks(
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
