"""The streamed features' fit sample, picked bucket by bucket.

The builder learns from :data:`~leadscore.features.build.FIT_SAMPLE` leads at most: those
whose ids hash lowest (:func:`~leadscore.features.build.fit_sample`), wherever their events
are. A streamed build sees the leads a bucket at a time, so it keeps the lowest so far in a
:class:`SamplePool` and merges each bucket's candidates into it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from leadscore.features.build import lead_hashes


@dataclass
class SamplePool:
    """The candidates for the fit sample so far: the lowest lead hashes, sorted by hash
    then id (the order :func:`~leadscore.features.build.fit_sample` picks them in).

    Example
    -------
    >>> pool = SamplePool().merged(np.array(["a", "b", "c"], dtype=object), most=2)
    >>> pool.ids.tolist(), len(pool)  # by hash, as fit_sample picks them
    (['c', 'b'], 2)
    """

    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, object))

    def __len__(self) -> int:
        return len(self.hashes)

    def merged(self, ids: np.ndarray, most: int, hashes: np.ndarray | None = None) -> SamplePool:
        """The ``most`` lowest of these and the new ``ids`` (with their ``hashes``, else
        hashed here). The new ones are put in place in the sorted arrays, not sorted
        with them again: a bucket's leads are merged in each time."""
        hashes = lead_hashes(ids) if hashes is None else hashes
        if len(self) >= most:  # a lead hashed above the full pool's highest never joins
            near = hashes <= self.hashes[-1]
            ids, hashes = ids[near], hashes[near]
        if not len(ids):
            return self
        order = np.argsort(hashes, kind="stable")
        at = np.searchsorted(self.hashes, hashes[order])
        all_hashes = np.insert(self.hashes, at, hashes[order])
        all_ids = np.insert(self.ids, at, np.asarray(ids, dtype=object)[order])
        if bool((all_hashes[1:] == all_hashes[:-1]).any()):
            # two ids with one hash: the id decides (rare; comparing text costs 6x)
            by = np.lexsort((all_ids, all_hashes))
            all_hashes, all_ids = all_hashes[by], all_ids[by]
        return SamplePool(all_hashes[:most], all_ids[:most])
