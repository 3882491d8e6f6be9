"""Streamed scores ranked, decided and written best first, a run of leads at a time.

The second and third passes of :func:`leadscore.scoring.streaming.score_file`. The leads
come from the first pass's temporary Arrow file in file order with their ids and scores;
:func:`ranked_runs` gives each its rank, score on 0–100, segment and contact decision (the
threshold, or the ``capacity`` best) and exploration — as
:meth:`~leadscore.modeling.model.LeadModel.score_leads` and
:class:`~leadscore.scoring.exploration.ExplorationPolicy` do on a whole table — and cuts
them by rank into runs (ranks 1 … k, k + 1 … 2k, …), written to a second temporary file.
Each run is then read back, sorted by rank and appended to the output
(:class:`TableOutput`): memory holds one run, never the file.

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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from leadscore.errors import DataError
from leadscore.modeling.model import LeadModel
from leadscore.scoring.exploration import ExplorationPolicy, explore
from leadscore.scoring.ranking import Ranks

#: at most this many runs: past ``batch size × MAX_RUNS`` leads the runs grow instead
MAX_RUNS = 256


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
                    self.writer = pq.ParquetWriter(self.partial, table.schema)
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
        order = np.argsort(rank, kind="stable")
        runs = (rank[order] - 1) // self.run_size
        cuts = np.flatnonzero(np.diff(runs)) + 1
        ordered = batch.take(pa.array(order))
        if self.writer is None:
            self.sink = pa.OSFile(str(self.path), "wb")
            self.writer = pa.ipc.new_file(self.sink, batch.schema)
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(order)], strict=True):
            self.writer.write_batch(ordered.slice(int(lo), int(hi - lo)))
            self.piece_run.append(int(runs[lo]))

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
                    rank = table.column("rank").to_numpy()
                    yield table.take(pa.array(np.argsort(rank, kind="stable")))


def _explored(ids: pa.Array, contact: np.ndarray, policy: ExplorationPolicy) -> np.ndarray:
    """The leads the policy explores (:func:`explore`): drawn only among the leads the
    model does not contact, the only ones a draw can choose."""
    explored = np.zeros(len(contact), dtype=bool)
    below = np.flatnonzero(~contact)
    if len(below) and policy.share > 0:
        others = ids.take(pa.array(below)).to_pylist()
        chosen = explore(others, np.zeros(len(below), bool), policy.share, policy.seed)
        explored[below] = chosen.explored
    return explored


def ranked_runs(
    scored: Path,
    ranks: Ranks,
    model: LeadModel,
    capacity: int | None,
    exploration: ExplorationPolicy | None,
    batch_size: int,
    folder: Path,
    out: Path | None,
    top: int,
) -> tuple[Tally, pd.DataFrame]:
    """Passes 2 and 3 (see the module docstring): rank and decide the leads of ``scored``
    (the first pass's file), write them best first to ``out``; return the counts and the
    ``top`` best leads."""
    key = model.id_column_ or "lead"
    runs = _Runs(folder / "ranked.arrow", max(batch_size, -(-ranks.n // MAX_RUNS)))
    counts = dict.fromkeys(("hot", "warm", "cold", "contacted", "explored"), 0)
    with pa.OSFile(str(scored), "rb") as source:
        reader = pa.ipc.open_file(source)
        for i in range(reader.num_record_batches):
            batch = reader.get_batch(i)
            p = batch.column("score").to_numpy()
            rank = ranks.of(p)
            decided = model.cutoffs_.decide(p)
            contact = rank <= capacity if capacity else decided.contact
            columns = {
                key: batch.column(key), "score": batch.column("score"),
                "score_100": pa.array(decided.score_100.astype(np.int64)),
                "segment": pa.array(decided.segment.astype(object), pa.string()),
                "rank": pa.array(rank), "contact": pa.array(contact),
            }  # fmt: skip
            if "age_days" in batch.schema.names:
                columns["age_days"] = batch.column("age_days")
            if exploration is not None:
                explored = _explored(batch.column(key), contact, exploration)
                columns["contact"] = pa.array(contact | explored)
                columns["explored"] = pa.array(explored)
                columns["propensity"] = pa.array(np.where(contact, 1.0, float(exploration.share)))
                contact = contact | explored
                counts["explored"] += int(explored.sum())
            for name in ("reasons_up", "reasons_down"):
                if name in batch.schema.names:
                    columns[name] = batch.column(name)
            for segment in ("hot", "warm", "cold"):
                counts[segment] += int((decided.segment == segment).sum())
            counts["contacted"] += int(np.sum(contact))
            runs.add(pa.RecordBatch.from_pydict(columns), rank)
    output = TableOutput(out) if out is not None else None
    head = pd.DataFrame()
    try:
        for table in runs.runs():
            if head.empty and top:
                head = table.slice(0, top).to_pandas()
            if output is not None:
                output.write(table)
    except BaseException:
        if output is not None:
            output.abort()
        raise
    if output is not None:
        output.close()
    return Tally(ranks.n, **counts), head
