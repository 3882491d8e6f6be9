"""The compiled kernels: raw scores by walking the trees, and exact tree SHAP.

:func:`raw_rows` walks each tree from its root, LightGBM's decisions at each split
(scores without reasons). :func:`explain_rows` gives the raw scores and the SHAP values
together, over the blocks laid out by :mod:`leadscore.scoring.treeshap.blocks`: per block
the splits, the path masks, then each bucket of groups in chunks of :data:`CHUNK`, stage
by stage — each stage a loop over those groups without a branch that depends on the
group. Each group gets the smallest quadrature rule exact for it; the rule is written out
for every path size up to eight (:mod:`leadscore.scoring.sweeps`), so that its products
stay in registers and the loop over groups vectorises.

Every kernel releases the GIL (``nogil``): a call's parts run on several threads at once.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np

from leadscore.scoring import sweeps
from leadscore.scoring.treeshap.flat import CATEGORICAL, MAX_UNIQUE, MISSING_NAN, MISSING_ZERO

#: LightGBM's kZeroThreshold: |x| at or below it counts as zero
ZERO_THRESHOLD = 1e-35
#: groups of a bucket computed together, stage by stage (see _bucket)
CHUNK = 32


@functools.cache
def quadrature(max_unique: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights on [0, 1]; row ``d`` is exact to degree ``d − 1``."""
    nodes = np.zeros((max_unique + 1, (max_unique + 1) // 2 + 1))
    weights = np.zeros_like(nodes)
    for d in range(1, max_unique + 1):
        q = (d + 1) // 2
        x, w = np.polynomial.legendre.leggauss(q)
        nodes[d, :q] = (x + 1) / 2
        weights[d, :q] = w / 2
    return nodes, weights


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
def raw_rows(
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
    (bit 0: zero or NaN, bit 1: NaN — see ``blocks.RULE_*``) and its category code (−1: none)."""
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
def explain_rows(rows, block_lo, block_hi, n_nodes, b, nodes, weights, raw, values):  # fmt: skip
    """Add each row's raw score to ``raw`` and its SHAP values to ``values``, over the
    trees of blocks ``block_lo…block_hi − 1`` of ``b``
    (:class:`~leadscore.scoring.treeshap.blocks.Blocks`)."""
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
