"""Streamed scores decided and written best first, a band or run of leads at a time.

The last passes of :func:`leadscore.scoring.streaming.score_file`. The first pass leaves
the leads in a temporary Arrow file with their ids and scores. :func:`write_best_first`
takes them best first, a table of consecutive ranks at a time (the first pass's bands,
:mod:`~leadscore.scoring.score_bands`, or :func:`ranked_runs`' runs), gives each table's
leads their score on 0–100, segment, contact decision (the threshold, or the ``capacity``
best) and exploration — as :meth:`~leadscore.modeling.model.LeadModel.score_leads` and
:class:`~leadscore.scoring.exploration.ExplorationPolicy` do on a whole table — and
appends them to the output (:class:`TableOutput`): memory holds a table or two, never the
file.

:func:`ranked_runs` is the way when the bands came out uneven: each lead gets its rank
among all the file's scores (:class:`~leadscore.scoring.ranking.Ranks`) and the leads are
cut by rank into runs (ranks 1 … k, k + 1 … 2k, …) in a second temporary file, each run
read back sorted by rank.

Example
-------
>>> out = TableOutput(Path("ranked.csv"))
>>> out.write(pa.table({"lead_id": ["L2", "L1"], "rank": [1, 2]}))
>>> out.close()
>>> Path("ranked.csv").read_text().splitlines()
['lead_id,rank', 'L2,1', 'L1,2']
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from leadscore.errors import DataError
from leadscore.modeling.model import LeadModel
from leadscore.scoring.exploration import ExplorationPolicy, uniform_draws
from leadscore.scoring.ranking import Ranks
from leadscore.scoring.score_bands import write_pieces

#: the output's columns of few distinct values, dictionary-encoded in Parquet
DICTIONARY_COLUMNS = ("segment", "score_100", "reasons_up", "reasons_down")
#: at most this many runs: past ``run size × MAX_RUNS`` leads the runs grow instead
MAX_RUNS = 256
#: a run holds this many batches' worth of leads: every batch is cut into a piece per run,
#: and at 10 million leads 150 runs of one batch made 38,000 pieces to write and read back
RUN_BATCHES = 2


def run_size(batch_size: int, leads: int) -> int:
    """Leads in a run (and a band): :data:`RUN_BATCHES` batches, or more past
    :data:`MAX_RUNS` runs.

    Example
    -------
    >>> run_size(65_536, 1_000_000), run_size(65_536, 100_000_000)
    (131072, 390625)
    """
    return max(RUN_BATCHES * batch_size, -(-leads // MAX_RUNS))


@dataclass(frozen=True)
class Tally:
    """How many leads were scored, in each segment, contacted and explored."""

    leads: int
    hot: int
    warm: int
    cold: int
    contacted: int
    explored: int


class TableOutput:
    """An output table written in parts, CSV (pandas' text, as ``write_table``) or
    Parquet, under a temporary name until :meth:`close` renames it.

    Parameters
    ----------
    path:
        ``.csv``, ``.tsv`` or ``.parquet`` (``.pq``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(f".{path.name}.partial")
        self.parquet = path.suffix.lower() in (".parquet", ".pq")
        self.writer: pq.ParquetWriter | None = None
        self.started = False

    def write(self, table: pa.Table) -> None:
        """Append rows (the same columns every time)."""
        try:
            if self.parquet:
                if self.writer is None:
                    # a dictionary only where values repeat: for ids, scores and ranks it
                    # costs twice the writing time and makes the file larger
                    repeated = [c for c in DICTIONARY_COLUMNS if c in table.schema.names]
                    self.writer = pq.ParquetWriter(
                        self.partial, table.schema, use_dictionary=repeated
                    )
                self.writer.write_table(table)
            else:
                sep = "\t" if self.path.suffix.lower() == ".tsv" else ","
                table.to_pandas().to_csv(
                    self.partial, mode="a" if self.started else "w", header=not self.started,
                    index=False, sep=sep,
                )  # fmt: skip
        except (ValueError, TypeError, OSError) as exc:  # pyarrow's errors subclass these
            self.abort()
            raise DataError(f"cannot write {self.path}: {exc}") from None
        self.started = True

    def close(self) -> None:
        """Finish the file and give it its name."""
        if self.writer is not None:
            self.writer.close()
        self.partial.replace(self.path)

    def abort(self) -> None:
        """Remove the unfinished file."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.partial.unlink(missing_ok=True)


class _Runs:
    """The second temporary file: the leads cut by rank into runs, each written as pieces
    (one per batch it got leads from) that :meth:`run` reads back."""

    def __init__(self, path: Path, run_size: int) -> None:
        self.path, self.run_size = path, run_size
        self.piece_run: list[int] = []
        self.writer: pa.ipc.RecordBatchFileWriter | None = None
        self.sink: pa.OSFile | None = None

    def add(self, batch: pa.RecordBatch, rank: np.ndarray) -> None:
        # grouped by run only (each run is sorted when read back): a radix sort of small
        # integers, not a sort of the ranks
        if self.writer is None:
            self.sink = pa.OSFile(str(self.path), "wb")
            self.writer = pa.ipc.new_file(self.sink, batch.schema)
        self.piece_run += write_pieces(self.writer, batch, (rank - 1) // self.run_size)

    def runs(self) -> Iterator[pa.Table]:
        """Each run's leads sorted by rank, best run first (read one at a time)."""
        assert self.writer is not None and self.sink is not None
        self.writer.close()
        self.sink.close()
        pieces = np.array(self.piece_run)
        order = np.argsort(pieces, kind="stable")
        bounds = np.searchsorted(pieces[order], np.arange(pieces.max() + 2))
        with pa.OSFile(str(self.path), "rb") as source:
            reader = pa.ipc.open_file(source)
            for lo, hi in itertools.pairwise(bounds):
                if hi > lo:
                    table = pa.Table.from_batches([reader.get_batch(int(i)) for i in order[lo:hi]])
                    yield table.take(pa.array(_by_rank(table.column("rank").to_numpy())))


def _by_rank(rank: np.ndarray) -> np.ndarray:
    """The order that sorts a run by rank. A run holds consecutive ranks, each once (ties
    are ranked by file order): each lead's place is its rank less the run's first."""
    if not len(rank):
        return np.zeros(0, dtype=np.int64)
    place = rank - rank.min()
    if place.max() != len(rank) - 1:  # not consecutive: sort
        return np.argsort(rank, kind="stable")
    order = np.empty(len(rank), dtype=np.int64)
    order[place] = np.arange(len(rank))
    return order


def _explored(
    ids: pa.Array | pa.ChunkedArray, contact: np.ndarray, policy: ExplorationPolicy
) -> np.ndarray:
    """The leads the policy explores (:func:`~leadscore.scoring.exploration.explore`):
    drawn only among the leads the model does not contact, the only ones a draw can
    choose."""
    explored = np.zeros(len(contact), dtype=bool)
    below = ~contact
    if below.any() and policy.share > 0:
        # explore()'s draw without its per-lead Python objects: the ids stay Arrow text
        draws = uniform_draws(ids.filter(pa.array(below)), policy.seed)
        explored[below] = draws < policy.share
    return explored


#: the segments, in the order of their codes
SEGMENTS = ("hot", "warm", "cold")


def _segments(segment: np.ndarray, counts: dict[str, int]) -> pa.Array:
    """The segments as Arrow text, picked by code from the three names (one string object
    per lead would cost more than the rest of the decision), counted into ``counts``."""
    codes = np.full(len(segment), -1, dtype=np.int32)
    for code, name in enumerate(SEGMENTS):
        mine = segment == name
        codes[mine] = code
        counts[name] += int(mine.sum())
    if (codes < 0).any():  # not a segment name: as it is
        return pa.array(segment, pa.string())
    return pa.array(SEGMENTS, pa.string()).take(pa.array(codes))


def ranked_runs(
    scored: Iterator[pa.RecordBatch],
    ranks: Ranks,
    size: int,
    folder: Path,
) -> Iterator[pa.Table]:
    """Pass 2 (see the module docstring): rank the leads of ``scored`` (the first pass's
    batches; for each score, its leads in file order) and cut them by rank into runs on
    disk (``size`` leads a run); yields the runs best first, each sorted by rank with its
    ``rank`` column."""
    runs = _Runs(folder / "ranked.arrow", size)
    for batch in scored:
        rank = ranks.of(batch.column("score").to_numpy())
        runs.add(batch.append_column("rank", pa.array(rank)), rank)
    if runs.writer is not None:
        yield from runs.runs()


def write_best_first(
    ranked: Iterator[pa.Table],
    leads: int,
    model: LeadModel,
    capacity: int | None,
    exploration: ExplorationPolicy | None,
    out: Path | None,
    top: int,
) -> tuple[Tally, pd.DataFrame]:
    """Pass 3 (see the module docstring): decide the ``ranked`` leads (tables best first,
    each sorted by rank, with the first pass's columns and ``rank``) and write them to
    ``out``; return the counts and the ``top`` best leads."""
    key = model.id_column_ or "lead"
    counts = dict.fromkeys(("hot", "warm", "cold", "contacted", "explored"), 0)

    def decided(table: pa.Table) -> pa.Table:
        """A run's leads with their decisions (as ``score_leads`` and the policy make
        them), in the output's columns."""
        p = table.column("score").to_numpy()
        rank = table.column("rank").to_numpy()
        decisions = model.cutoffs_.decide(p)
        contact = rank <= capacity if capacity else decisions.contact
        columns = {
            key: table.column(key), "score": table.column("score"),
            "score_100": pa.array(decisions.score_100.astype(np.int64)),
            "segment": _segments(decisions.segment, counts),
            "rank": table.column("rank"), "contact": pa.array(contact),
        }  # fmt: skip
        if "age_days" in table.column_names:
            columns["age_days"] = table.column("age_days")
        if exploration is not None:
            explored = _explored(table.column(key), contact, exploration)
            columns["contact"] = pa.array(contact | explored)
            columns["explored"] = pa.array(explored)
            columns["propensity"] = pa.array(np.where(contact, 1.0, float(exploration.share)))
            contact = contact | explored
            counts["explored"] += int(explored.sum())
        for name in ("reasons_up", "reasons_down"):
            if name in table.column_names:
                columns[name] = table.column(name)
        counts["contacted"] += int(np.sum(contact))
        return pa.Table.from_pydict(columns)

    output = TableOutput(out) if out is not None else None
    head = pd.DataFrame()
    # a run is written by a thread (Parquet's encoding releases the interpreter lock)
    # while the next is read back and sorted: two runs in memory at most
    writing: Future[None] | None = None
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="leadscore-write") as writer:
            for run in ranked:
                table = decided(run)
                if head.empty and top:
                    head = table.slice(0, top).to_pandas()
                if output is not None:
                    if writing is not None:
                        writing.result()
                    writing = writer.submit(output.write, table)
            if writing is not None:
                writing.result()
    except BaseException:
        if output is not None:
            output.abort()
        raise
    if output is not None:
        output.close()
    return Tally(leads, **counts), head
