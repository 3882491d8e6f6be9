"""Every lead's rank among all the leads of a file, a batch at a time.

A lead's rank is its place when the leads are sorted best first, a tie going to the lead
that comes first in the file — ``pd.Series(-p).rank(method="first")``, as
:meth:`~leadscore.modeling.model.LeadModel.score_leads` ranks a whole table. Streamed,
the scores of the whole file are all that is kept: :class:`Ranks` holds them sorted (8
bytes a lead) and ranks each batch in file order, the first time it sees it: the leads
above a score are counted in the sorted scores, the earlier leads of the same score by a
counter per tied score.

Example
-------
>>> ranks = Ranks(np.array([0.2, 0.9, 0.2, 0.5]))
>>> ranks.of(np.array([0.2, 0.9])).tolist(), ranks.of(np.array([0.2, 0.5])).tolist()
([3, 1], [4, 2])
"""

from __future__ import annotations

import numba
import numpy as np

from leadscore.scoring.treeshap.pool import CORES, by_ranges, shared_pool

#: scores from which :class:`Ranks` searches them through a :class:`Grid` (a compiled
#: kernel) rather than by ``np.searchsorted``, whose binary searches miss the cache once
#: the scores outgrow it (measured: ``bench/batch_scoring.py --ranks``)
INDEXED_FROM = 1 << 20
#: sorted scores per cell of the grid, on average
CELL = 16
#: needles from which one search through the grid is split over the cores
THREADED_NEEDLES = 16_384


class Grid:
    """Where each cell of a range of numbers starts among sorted values, for searching them.

    A number's cell is ``floor((x - low) × scale)`` (clipped to the cells), which never
    decreases as the number grows: the values below a number's cell are below it, those
    above its cell above it, so both of its places among the values lie within its cell's
    few values — one or two cache lines, not a binary search over all of them.

    Parameters
    ----------
    values:
        Sorted numbers (NaN last, as numpy sorts them).
    """

    def __init__(self, values: np.ndarray) -> None:
        self.n = len(values)
        self.finite = int(np.searchsorted(values, np.nan, side="left"))  # NaN sort last
        self.cells = max(1, self.finite // CELL)
        with np.errstate(invalid="ignore"):  # infinite values: one cell for all
            span = float(values[self.finite - 1] - values[0]) if self.finite else 0.0
        self.low = float(values[0]) if self.finite else 0.0
        self.scale = self.cells / span if 0 < span < np.inf else 0.0
        counts = np.zeros(self.cells, dtype=np.int64)
        for at in range(0, self.finite, 1 << 20):  # a chunk at a time: memory stays small
            cell = self.cell_of(values[at : min(at + (1 << 20), self.finite)])
            counts += np.bincount(cell, minlength=self.cells)
        self.start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def cell_of(self, x: np.ndarray) -> np.ndarray:
        """Each number's cell (the kernel computes the same)."""
        with np.errstate(invalid="ignore"):  # (infinite values: NaN, cell 0)
            f = (x - self.low) * self.scale
        inside = np.where(f > 0, np.floor(np.where(f > 0, f, 0.0)), 0.0)
        return np.where(f >= self.cells, self.cells - 1, inside).astype(np.int64)


@numba.njit(cache=True, nogil=True)
def _search(
    values: np.ndarray, needles: np.ndarray, start: np.ndarray, low: float, scale: float,
    finite: int, first: np.ndarray, last: np.ndarray,
) -> None:  # fmt: skip  # pragma: no cover - compiled
    cells = len(start) - 1
    for i in range(len(needles)):
        x = needles[i]
        if x != x:  # NaN: after every number
            first[i] = finite
            last[i] = len(values)
            continue
        f = (x - low) * scale
        cell = cells - 1 if f >= cells else (int(np.floor(f)) if f > 0 else 0)
        lo, hi = start[cell], start[cell + 1]
        while lo < hi:  # the first value not below x
            mid = (lo + hi) // 2
            if values[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        first[i] = lo
        hi = start[cell + 1]
        while lo < hi:  # the first value above x
            mid = (lo + hi) // 2
            if values[mid] > x:
                hi = mid
            else:
                lo = mid + 1
        last[i] = lo


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Equal, NaN equal to NaN (as the sort places them)."""
    return (a == b) | (np.isnan(a) & np.isnan(b))


def bounds(
    values: np.ndarray, needles: np.ndarray, grid: Grid | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``np.searchsorted(values, needles, side="left")`` and ``side="right"``, for sorted
    ``values`` (NaN last, as numpy sorts them).

    Parameters
    ----------
    values:
        Sorted numbers.
    needles:
        Numbers to place among them (ascending ones are placed faster).
    grid:
        The values' :class:`Grid`: search through it, compiled.

    Example
    -------
    >>> values = np.array([0.1, 0.2, 0.2, 0.5])
    >>> bounds(values, np.array([0.2, 0.3])), bounds(values, np.array([0.2]), Grid(values))
    ((array([1, 3]), array([3, 3])), (array([1]), array([3])))
    """
    if grid is not None:
        first = np.empty(len(needles), dtype=np.int64)
        last = np.empty(len(needles), dtype=np.int64)
        # each needle alone: the cores take a part each
        parts = CORES if len(needles) >= THREADED_NEEDLES else 1
        args = (values, grid.start, grid.low, grid.scale, grid.finite)

        def search(lo: int, hi: int) -> None:
            _search(args[0], needles[lo:hi], *args[1:], first[lo:hi], last[lo:hi])

        by_ranges(shared_pool(), search, len(needles), parts)
        return first, last
    first = np.searchsorted(values, needles, side="left")
    n = len(values)
    if not n:
        return first, first.copy()
    # the values equal to a needle end where they start (none), one place later, or — a
    # tie, or NaN — further: only those need the second search
    found = (first < n) & _same(values[np.minimum(first, n - 1)], needles)
    last = first + found
    shared = found & (last < n) & _same(values[np.minimum(last, n - 1)], needles)
    if shared.any():
        last[shared] = np.searchsorted(values, needles[shared], side="right")
    return first, last


class Ranks:
    """The ranks of a file's scores, given in batches in file order.

    Parameters
    ----------
    scores:
        Every lead's score, in any order; sorted in place (the array is taken over).
    """

    def __init__(self, scores: np.ndarray) -> None:
        scores.sort()
        self.sorted = scores
        self.n = len(scores)
        self.grid = Grid(scores) if self.n >= INDEXED_FROM else None
        #: for each tied score (by its first place in the sorted scores): leads seen so far
        self.seen: dict[int, int] = {}

    def of(self, p: np.ndarray) -> np.ndarray:
        """The ranks (1 = best) of the next leads of the file, whose scores are ``p``."""
        if self.grid is not None:  # a search within a cell each: no order helps
            low, high = bounds(self.sorted, p, self.grid)
        else:
            # sorted needles: each search starts where the last one ended (fewer misses)
            by_score = np.argsort(p, kind="stable")
            first, last = bounds(self.sorted, p[by_score])
            low, high = np.empty(len(p), np.int64), np.empty(len(p), np.int64)
            low[by_score] = first
            high[by_score] = last
        rank = (self.n - high + 1).astype(np.int64)  # 1 + the leads scored higher
        tied = np.flatnonzero(high - low > 1)
        if len(tied):
            keys = low[tied]
            order = np.argsort(keys, kind="stable")  # the batch's leads of a score, in order
            sorted_keys = keys[order]
            starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
            counts = np.diff(np.r_[starts, len(sorted_keys)])
            within = np.arange(len(sorted_keys)) - np.repeat(starts, counts)
            before = np.array([self.seen.get(int(k), 0) for k in sorted_keys[starts]])
            rank[tied[order]] += np.repeat(before, counts) + within
            for key, count, done in zip(sorted_keys[starts], counts, before, strict=True):
                self.seen[int(key)] = int(done + count)
        return rank
