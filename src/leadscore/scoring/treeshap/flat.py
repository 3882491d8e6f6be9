"""The parsed trees laid out flat, the form both kernels start from.

Internal nodes are numbered parents first (depth first), tree after tree, each with its
split (column of the input row, threshold or category bitset, missing-value type, default
direction) and its place on the path from the root. The SHAP kernel walks *groups*: a
leaf, or a pair of sibling leaves (two thirds of all leaves), whose paths share every
feature but the last split's — one pass over the shared features serves both. Each group
records the unique features of its path(s) (its *slots*, in order of first appearance)
with the share of training rows that followed the path's edges on each.

The walk that lays the trees out is compiled (it runs when a model is loaded, beside live
requests); it first counts the groups and slots, then fills arrays of that size.
Trees that are a single leaf are no trees to walk: their values add up to a constant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from leadscore.scoring.treeshap import _Trees
from leadscore.scoring.treeshap.parse import CAT_FIELDS, LEAF_FIELDS, SPLIT_FIELDS

#: a split's kind, as LightGBM's decision type (bit 0)
NUMERIC, CATEGORICAL = 0, 1
#: a split's missing-value type, as LightGBM's decision type (bits 2–3)
MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2
#: deepest path (unique features) the quadrature tables cover
MAX_UNIQUE = 64
#: pairs are formed where the paths have at most this many features: all of them (the
#: kernel treats pairs of any depth alike)
PAIR_MAX = MAX_UNIQUE


@dataclass(frozen=True)
class Arrays:
    """The flattened forest: its internal nodes (parents first, tree after tree), leaves,
    groups and slots (see the module's docstring)."""

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


def flatten(parsed: list[tuple[_Trees, int]], scale: float) -> tuple[Arrays, float, float]:
    """Boosters' trees (each with the column offset of its slice of the row) → the flat
    forest, its base value (expected raw score) and its constant part."""
    leaves = np.concatenate([t.leaves for t, _ in parsed])
    cats = np.concatenate([t.cats for t, _ in parsed])
    offsets = np.concatenate([np.full(len(t.leaves), o, dtype=np.int64) for t, o in parsed])
    field = {
        name: np.concatenate([t.fields[name] for t, _ in parsed])
        for name in (*SPLIT_FIELDS, *LEAF_FIELDS, *CAT_FIELDS)
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
    arrays = Arrays(bitsets=bitsets if len(bitsets) else np.zeros(1, np.uint32), **out)
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
