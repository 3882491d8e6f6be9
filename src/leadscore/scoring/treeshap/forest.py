"""One or more LightGBM boosters compiled into one forest: raw scores and tree SHAP.

:class:`CompiledForest` is what the scorers hold: built from the boosters' parsed trees
(:mod:`.parse`, :mod:`.flat`, :mod:`.blocks`), it runs the kernels (:mod:`.kernels`; the
raw scores of a batch: :mod:`.bitvectors` or :mod:`.walk`) and cuts one call's work over the cores
(:mod:`.pool`): a batch by rows, one lead's trees into runs of blocks. Either way the
parts are added in one order, so the same rows get the same bits whichever thread
finishes first.

One lead's explanation can be begun on the pool and finished later
(:meth:`CompiledForest.begin`): the service opens the lead's store transaction meanwhile.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np

from leadscore.scoring.treeshap import _Trees
from leadscore.scoring.treeshap.bitvectors import (
    Bitvectors,
    bitvector_layout,
    bitvector_rows,
    eligible,
)
from leadscore.scoring.treeshap.blocks import BLOCKS, blocked
from leadscore.scoring.treeshap.flat import MAX_UNIQUE, Arrays, flatten
from leadscore.scoring.treeshap.kernels import explain_rows, quadrature, raw_rows
from leadscore.scoring.treeshap.parse import parsed_trees
from leadscore.scoring.treeshap.pool import by_rows
from leadscore.scoring.treeshap.walk import BLOCK_ROWS, Walk, walk_layout, walk_rows

#: longest wait of :meth:`CompiledForest.begin` for the pool's thread to start its part
START_WAIT_S = 0.002
#: rows from which :meth:`CompiledForest.raw` runs the batch kernel (:mod:`.bitvectors`,
#: or :mod:`.walk`); fewer are walked one after the other (a lead of the service)
BATCH_ROWS = 16


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

    def __init__(self, arrays: Arrays, n_columns: int, base: float, constant: float) -> None:
        self.arrays = arrays
        self.n_columns = n_columns
        self.base = base
        self.constant = constant
        self._nodes, self._weights = quadrature(MAX_UNIQUE)
        self.blocks = blocked(arrays, BLOCKS)
        #: laid out at the first batch (the service's single leads need none)
        self._batch: Bitvectors | Walk | None = None

    @property
    def batch(self) -> Bitvectors | Walk:
        """The trees as the batch kernel reads them, laid out once: bitvectors
        (:mod:`.bitvectors`) where the forest is eligible, else the walk (:mod:`.walk`)."""
        if self._batch is None:  # two threads may both lay it out: the same arrays
            a, n = self.arrays, self.n_columns
            self._batch = bitvector_layout(a, n) if eligible(a) else walk_layout(a, n)
        return self._batch

    @classmethod
    def from_lightgbm(cls, boosters: Sequence[Any]) -> CompiledForest:
        """Compile fitted ``lightgbm.Booster`` objects (binary objective) into one forest
        whose outputs are their average; booster ``k`` reads columns
        ``k·n … (k+1)·n − 1`` of the row, ``n`` being its number of features.

        Reads LightGBM's text model (``model_to_string``): the JSON dump is several times
        slower to produce and parse, and a reload while the service answers should be short.
        A booster parsed before (see :func:`~leadscore.scoring.treeshap.parse.parsed_trees`) is
        not parsed again."""
        parsed: list[tuple[_Trees, int]] = []
        offset = 0
        for booster in boosters:
            header, trees = parsed_trees(booster)
            if header.get("num_tree_per_iteration", "1") != "1":
                raise ValueError("only single-output (binary) LightGBM models compile")
            parsed.append((trees, offset))
            offset += int(header["max_feature_idx"]) + 1
        arrays, base, constant = flatten(parsed, scale=1.0 / len(boosters))
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
        explain_rows(rows, lo, hi, n_nodes, self.blocks, self._nodes, self._weights, raw, values)
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
            done = by_rows(pool, self._explain_part, rows, parts)
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
        >>> import lightgbm as lgb
        >>> from leadscore.scoring.treeshap.pool import shared_pool
        >>> rng = np.random.default_rng(0)
        >>> rows, y = rng.normal(size=(300, 3)), rng.integers(0, 2, 300)
        >>> booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(rows, y), 20)
        >>> forest = CompiledForest.from_lightgbm([booster])
        >>> finish = forest.begin(rows[:1], shared_pool(), 0.6)  # 60 % of the trees start now
        >>> raw, values, base = finish()  # the rest on this thread, then the two added
        >>> bool(np.allclose(raw, booster.predict(rows[:1], raw_score=True)))
        True
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
        ``pool``, the rows are cut in ``parts`` (see :meth:`explain`). From
        :data:`BATCH_ROWS` rows the batch kernel computes them (:attr:`batch`), to the
        same bits."""
        rows = self._rows(rows)
        if pool is not None and parts > 1 and len(rows) > 1:
            return np.concatenate(by_rows(pool, self.raw, rows, parts))
        raw = np.full(len(rows), self.constant)
        if len(rows) < BATCH_ROWS:
            return self.raw_one_by_one(rows, raw)
        batch = self.batch
        if isinstance(batch, Bitvectors):
            bitvector_rows(rows, batch, raw)
        else:
            walk_rows(rows, batch, BLOCK_ROWS, raw)
        return raw

    def raw_one_by_one(self, rows: np.ndarray, raw: np.ndarray | None = None) -> np.ndarray:
        """:meth:`raw` of ``rows`` walked one after the other through every tree (the
        service's kernel), added to ``raw`` (by default the constant part)."""
        rows = self._rows(rows)
        if raw is None:
            raw = np.full(len(rows), self.constant)
        a = self.arrays
        raw_rows(
            rows, a.feature, a.threshold, a.kind, a.missing, a.default_left, a.cat_start,
            a.cat_words, a.bitsets, a.child_left, a.child_right, a.roots, a.leaf_value, raw,
        )  # fmt: skip
        return raw
