"""The process's threads for the compiled kernels, and one call's work cut over them.

The kernels release the GIL, so one call's parts run side by side: a batch cut by rows,
one lead's trees cut into runs of blocks (:meth:`CompiledForest.explain
<leadscore.scoring.treeshap.forest.CompiledForest.explain>`). One pool serves every
compiled model of the process — batch explanations and the service's single leads alike —
so that they share the cores instead of each bringing threads of its own.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TypeVar

import numpy as np

_T = TypeVar("_T")

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


def by_rows(
    pool: Executor, run: Callable[[np.ndarray], _T], rows: np.ndarray, parts: int
) -> list[_T]:
    """``run`` on ``parts`` runs of ``rows``, all but the first on ``pool``, in order."""
    chunks = np.array_split(rows, min(parts, len(rows)))
    others = [pool.submit(run, chunk) for chunk in chunks[1:]]
    return [run(chunks[0]), *(other.result() for other in others)]


def by_ranges(pool: Executor, run: Callable[[int, int], object], n: int, parts: int) -> None:
    """``run(lo, hi)`` on ``parts`` consecutive ranges covering ``0 … n`` (sizes within one
    of each other), all but the first on ``pool``; returns when every part is done, raising
    the first part's error. For kernels that write their part of a preallocated output.

    Example
    -------
    >>> out = np.zeros(5)
    >>> def double(lo, hi): out[lo:hi] = 2 * np.arange(lo, hi)
    >>> by_ranges(shared_pool(), double, 5, 2)
    >>> out.tolist()
    [0.0, 2.0, 4.0, 6.0, 8.0]
    """
    cuts = np.linspace(0, n, max(parts, 1) + 1).astype(np.int64)
    (lo, hi), *rest = itertools.pairwise(int(c) for c in cuts)
    others = [pool.submit(run, *part) for part in rest]
    run(lo, hi)
    for other in others:
        other.result()
