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

import numpy as np


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
        #: for each tied score (by its first place in the sorted scores): leads seen so far
        self.seen: dict[int, int] = {}

    def of(self, p: np.ndarray) -> np.ndarray:
        """The ranks (1 = best) of the next leads of the file, whose scores are ``p``."""
        # sorted needles: each search starts where the last one ended (far fewer misses)
        by_score = np.argsort(p, kind="stable")
        low, high = np.empty(len(p), np.int64), np.empty(len(p), np.int64)
        low[by_score] = np.searchsorted(self.sorted, p[by_score], side="left")
        high[by_score] = np.searchsorted(self.sorted, p[by_score], side="right")
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
