"""Scoring a file of any size: read in batches, scored on every core, written best first.

:func:`score_file` gives the table :func:`leadscore.scoring.batch.score` gives — the same
columns and values, best first — without holding the file: memory is bounded by the batch
size. Two passes, three where the scores are unevenly spread:

1. each batch of leads (:mod:`.batch_sources`) is scored — by the compiled model
   (:class:`~leadscore.scoring.columnar.CompiledBatch`) where its family has one, otherwise
   by the fitted pipeline — and its ids, scores (and reasons, ``age_days``) are appended
   to a temporary Arrow file, cut into bands of score whose edges come from the first
   batch's scores (:mod:`.score_bands`);
2. each band, best first, is read back and sorted (its leads' ranks follow from the bands
   above), gets its contact decisions (the threshold, or ``capacity`` best) and
   exploration, and is appended to the output (Parquet or CSV).

Where a band holds too many leads to sort in memory (the first batch was not like the
rest), every score is sorted instead (:class:`~leadscore.scoring.ranking.Ranks`, 8 bytes a
lead) and the leads cut by rank into runs in a second temporary file, each then sorted
and written as a band is (:func:`~leadscore.scoring.score_output.ranked_runs`).

The temporary files sit beside the output and are removed at the end; the output is
written under a temporary name and renamed when complete.

Example
-------
>>> _ = model.save("model/")
>>> leads.drop(columns=["sales_status", "converted"]).to_parquet("new.parquet")
>>> done = score_file("model/", "new.parquet", out="scores.parquet", batch_size=64, top=3)
>>> done.tally.leads, done.engine, done.top["rank"].tolist()
(300, 'compiled', [1, 2, 3])
>>> scores = pd.read_parquet("scores.parquet")
>>> scores.columns.tolist()
['lead_id', 'score', 'score_100', 'segment', 'rank', 'contact']
>>> bool(scores["rank"].is_monotonic_increasing)
True
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from leadscore.data.table_files import CSV_SUFFIXES, PARQUET_SUFFIXES
from leadscore.errors import DataError, LeadscoreError
from leadscore.modeling.model import LeadModel
from leadscore.scoring.arrow_inputs import DAY_NS, NAT, read_inputs
from leadscore.scoring.batch_sources import LeadFile, NotUtf8, lead_files, prefetched
from leadscore.scoring.columnar import CompiledBatch, NotCompilable, compiled_or_none
from leadscore.scoring.exploration import ExplorationPolicy
from leadscore.scoring.ranking import Ranks
from leadscore.scoring.score_bands import BAND_RUNS, BandedFile, Bands, band_count
from leadscore.scoring.score_output import (
    MAX_RUNS,
    Tally,
    ranked_runs,
    run_size,
    write_best_first,
)

#: leads read, scored and written at a time unless asked otherwise (twice 65,536: a
#: tenth less time at 10 million leads for a logistic regression, 0.04 GB more memory)
DEFAULT_BATCH_SIZE = 131_072


@dataclass(frozen=True)
class StreamResult:
    """What :func:`score_file` did: the counts, the best leads and the path it took.

    Attributes
    ----------
    tally:
        Leads, segments, contacts, explored leads.
    top:
        The ``top`` best leads as written, with the ``show`` input columns beside them.
    out:
        The file written, if any.
    engine:
        ``"compiled"``, or ``"pipeline"`` and why the model has no compiled form.
    """

    tally: Tally
    top: pd.DataFrame
    out: Path | None
    engine: str


def can_stream(source: object) -> bool:
    """Whether ``source`` is local CSV or Parquet files, which :func:`score_file` reads."""
    return isinstance(source, str | Path) and lead_files(source) is not None


def _frame(batch: pa.RecordBatch, first_row: int, text: set[str]) -> pd.DataFrame:
    """The batch as ``read_table`` gives it: the file's ``text`` read as a dictionary (for
    the compiled path) is text again, not a pandas category, which ``conform`` would not
    clean."""
    columns = [
        c.dictionary_decode() if pa.types.is_dictionary(c.type) and name in text else c
        for name, c in zip(batch.schema.names, batch.columns, strict=True)
    ]
    frame = pa.RecordBatch.from_arrays(columns, names=batch.schema.names).to_pandas()
    frame.index = pd.RangeIndex(first_row, first_row + batch.num_rows)
    return frame


def _ids(batch: pa.RecordBatch, column: str | None, first_row: int) -> pa.Array:
    """The leads' ids as text, as ``score_leads`` writes them (numbered without an id)."""
    if column is None or column not in batch.schema.names:
        return pa.array(np.arange(first_row + 1, first_row + batch.num_rows + 1).astype(str))
    ids = batch.column(column)
    if pa.types.is_string(ids.type) and ids.null_count == 0:
        return ids
    return pa.array(ids.to_pandas().astype(str), type=pa.string(), from_pandas=True)


class _FirstPass:
    """Pass 1: score each batch, append ids, scores (and reasons, ages) to a temporary
    file in bands of score, keep the best ``top`` leads' ``show`` columns."""

    def __init__(
        self, model: LeadModel, compiled: CompiledBatch | None, reasons: int, top: int,
        show: Sequence[str],
    ) -> None:  # fmt: skip
        self.model, self.compiled, self.reasons = model, compiled, reasons
        self.top, self.show = top, list(show)
        self.key = model.id_column_ or "lead"
        fields = [pa.field(self.key, pa.string()), pa.field("score", pa.float64())]
        if model.time_column_:
            fields.append(pa.field("age_days", pa.float64()))
            now = pd.Timestamp.now(tz="UTC").tz_localize(None)  # as score_leads: once
            self.now = int(np.datetime64(now, "ns").astype(np.int64))
        if reasons:
            fields += [pa.field("reasons_up", pa.string()), pa.field("reasons_down", pa.string())]
        self.schema = pa.schema(fields)

    def run(self, files: list[LeadFile], batch_size: int, path: Path) -> BandedFile:
        """Score every file into ``path``, each batch cut into bands of score (the bands'
        edges from the first batch's scores)."""
        schema = self.model.schema_
        wanted = [*schema.names, *([self.model.id_column_] if self.model.id_column_ else [])]
        categorical = schema.of_kind("categorical")
        counted = [f.rows() for f in files]
        leads = sum(c or 0 for c in counted) if None not in counted else _likely_rows(files)
        count = band_count(leads, run_size(batch_size, leads), MAX_RUNS)
        self.best = pd.DataFrame()
        banded, bands = BandedFile(path, self.schema), None
        first_row, adding = 0, None
        # a batch is cut into bands and written by a thread (sorting, taking and writing
        # release the interpreter lock) while the next is scored
        behind = ThreadPoolExecutor(1, thread_name_prefix="leadscore-bands")
        try:
            for source in files:
                text = source.text_columns()
                read = source.batches([*wanted, *self.show], batch_size, categorical)
                for batch in prefetched(read):
                    p, ages = self._score(batch, source, text, first_row)
                    columns = [_ids(batch, self.model.id_column_, first_row), pa.array(p)]
                    if self.model.time_column_:
                        columns.append(pa.array(ages))
                    if self.reasons:
                        columns += self._reasons(_frame(batch, first_row, text))
                    if bands is None:  # the edges: from the first batch's scores
                        bands = Bands(p, count)
                    if adding is not None:
                        adding.result()
                    record = pa.record_batch(columns, schema=self.schema)
                    adding = behind.submit(banded.add, record, p, bands)
                    self._keep_best(batch, p, first_row)
                    first_row += batch.num_rows
            if adding is not None:
                adding.result()
        finally:
            behind.shutdown(wait=True)
            banded.close()
        if not banded.rows:
            raise DataError("no leads to score: the file has a header but no rows")
        return banded

    def _score(
        self, batch: pa.RecordBatch, source: LeadFile, text: set[str], first_row: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        model, time = self.model, self.model.time_column_
        if self.compiled is not None:
            inputs = read_inputs(
                batch, model.schema_, first_row=first_row, text=text, na_values=source.na_values
            )
            p = self.compiled.proba(inputs)
            stamps = inputs.dates[time] if time else None
        else:
            frame = _frame(batch, first_row, text)
            p = model.predict_proba(frame)[:, 1]
            stamps = None
            if time:
                conformed = model.schema_.conform(frame)[time]
                stamps = conformed.to_numpy(dtype="datetime64[ns]").view(np.int64)
        if stamps is None:
            return p, None
        age = np.round((self.now - stamps) / DAY_NS, 1)
        return p, np.where(stamps == NAT, np.nan, age)

    def _reasons(self, frame: pd.DataFrame) -> list[pa.Array]:
        from leadscore.scoring.reasons import reasons as lead_reasons

        found = lead_reasons(self.model, frame, self.reasons)
        up = ["; ".join(r.text for r in ups) for ups, _ in found]
        down = ["; ".join(r.text for r in downs) for _, downs in found]
        return [pa.array(up, pa.string()), pa.array(down, pa.string())]

    def _keep_best(self, batch: pa.RecordBatch, p: np.ndarray, first_row: int) -> None:
        """The best ``top`` leads so far (ties: the earlier first), with their ``show``
        columns: the head of the output, for the terminal."""
        if not self.top:
            return
        cut = self.best["_score"].iloc[-1] if len(self.best) >= self.top else np.nan
        if np.isnan(cut):
            mine = _best(p, self.top)
        else:  # only a lead above the last of the best can enter (a tie goes to it)
            ahead = np.flatnonzero(p > cut)
            if not len(ahead):
                return
            mine = ahead[_best(p[ahead], self.top)]
        shown = [c for c in self.show if c in batch.schema.names]
        rows = batch.select(shown).take(pa.array(mine)).to_pandas() if shown else None
        found = pd.DataFrame({"_score": p[mine], "_row": first_row + mine})
        if rows is not None:
            found = pd.concat([found, rows.reset_index(drop=True)], axis=1)
        both = pd.concat([self.best, found], ignore_index=True) if len(self.best) else found
        self.best = both.sort_values(["_score", "_row"], ascending=[False, True]).head(self.top)


#: bytes of a CSV line of a lead, at least: a file's leads estimated from its size (too
#: many only makes more, smaller bands)
_CSV_LINE_BYTES = 40


def _likely_rows(files: list[LeadFile]) -> int:
    """About how many leads text files hold, from their size (gzip: about 5× as much)."""
    size = sum(f.path.stat().st_size * (5 if f.path.suffix.lower() == ".gz" else 1) for f in files)
    return size // _CSV_LINE_BYTES


def _best(p: np.ndarray, top: int) -> np.ndarray:
    """``np.argsort(-p, kind="stable")[:top]`` without sorting the whole batch: the
    leads at or above the ``top``-th best score (ties at it included), then sorted."""
    if top >= len(p) or np.isnan(p).any():  # (no model scores NaN: argsort puts them last)
        return np.argsort(-p, kind="stable")[:top]
    cut = np.partition(p, len(p) - top)[len(p) - top]
    near = np.flatnonzero(p >= cut)
    return near[np.argsort(-p[near], kind="stable")][:top]


def _check_out(out: str | Path | None) -> Path | None:
    if out is None:
        return None
    path = Path(out)
    if path.suffix.lower() not in CSV_SUFFIXES | PARQUET_SUFFIXES:
        raise DataError(
            f"cannot tell the output format of {path}: use a .csv or .parquet file name"
        )
    return path


def _first_pass(
    first: _FirstPass, files: list[LeadFile], batch_size: int, scored: Path
) -> BandedFile:
    try:
        return first.run(files, batch_size, scored)
    except NotUtf8:  # as read_table: a file that is not UTF-8 is Latin-1
        for source_file in files:
            source_file.encoding = "latin1"
        return first.run(files, batch_size, scored)


def score_file(
    model: LeadModel | str | Path,
    source: str | Path,
    *,
    out: str | Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    capacity: int | None = None,
    reasons: int = 0,
    exploration: ExplorationPolicy | None = None,
    top: int = 0,
    show: Sequence[str] = (),
    compiled: bool = True,
) -> StreamResult:
    """Score CSV or Parquet files of leads batch by batch, best first into ``out``.

    The same scores, ranks, segments and contacts as :func:`leadscore.scoring.batch.score`
    on the whole table (see the module docstring for how).

    Parameters
    ----------
    model:
        A fitted :class:`LeadModel` or the directory it was saved in.
    source:
        A CSV or Parquet file, or a folder or pattern of them (read one after the other).
    out:
        Write the scores here (``.csv``, ``.tsv`` or ``.parquet``), best first.
    batch_size:
        Leads read and scored at a time: memory grows with it, not with the file.
    capacity:
        Contact only this many of the best leads of the file (default: the model's
        setting, else everyone at or above the threshold).
    reasons:
        Add each lead's top ``reasons`` reasons up and down (the slower batch path).
    exploration:
        Contact a random share of the leads below the cut-off too.
    top:
        Keep this many of the best leads in the result (for a terminal).
    show:
        Input columns to keep beside them.
    compiled:
        Use the compiled model where its family has one (``False``: the pipeline).
    """
    lead_model = model if isinstance(model, LeadModel) else LeadModel.load(model)
    files = lead_files(source)
    if files is None:
        raise DataError(f"{source} is not CSV or Parquet files: read it whole (leadscore score)")
    if batch_size < 1:
        raise LeadscoreError(f"the batch size must be at least 1 lead, not {batch_size}")
    capacity = capacity if capacity is not None else lead_model.business_.capacity
    if capacity is not None and capacity < 1:
        raise LeadscoreError(f"capacity must be at least 1 lead, not {capacity}")
    out_path = _check_out(out)
    engine, why = compiled_or_none(lead_model, check=False) if compiled else (None, "asked for")
    folder = out_path.parent if out_path is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix=".leadscore-scoring-", dir=folder) as tmp,
        ThreadPoolExecutor(1, thread_name_prefix="leadscore-check") as checker,
    ):
        scored = Path(tmp) / "scored.arrow"
        # the compiled model's check against the pipeline (mostly Python) runs beside the
        # first pass (mostly Arrow and compiled kernels, off the GIL); nothing is ranked
        # or written before it has passed
        checking = checker.submit(engine.check) if engine is not None else None
        first = _FirstPass(lead_model, engine, reasons, top, show)
        try:
            banded = _first_pass(first, files, batch_size, scored)
        except Exception:
            # a compiled model its check refuses may fail on the file too: the pipeline
            # then scores it, as it would have had the check come first
            if checking is None or not isinstance(checking.exception(), NotCompilable):
                raise
        failed = checking.exception() if checking is not None else None
        if isinstance(failed, NotCompilable):  # scored again, through the pipeline
            engine, why = None, str(failed)
            first = _FirstPass(lead_model, None, reasons, top, show)
            banded = _first_pass(first, files, batch_size, scored)
        elif failed is not None:
            raise failed
        size = run_size(batch_size, banded.rows)
        if banded.balanced(BAND_RUNS * size):
            ranked = prefetched(banded.best_first())  # the next band sorted meanwhile
        else:  # a band too large to sort in memory: every score sorted instead
            ranked = ranked_runs(banded.pieces(), Ranks(banded.scores()), size, Path(tmp))
        tally, head = write_best_first(
            ranked, banded.rows, lead_model, capacity, exploration, out_path, top
        )
    top_rows = head
    if top:
        shown = first.best.drop(columns=["_score", "_row"]).reset_index(drop=True)
        extra = [c for c in shown.columns if c not in head.columns]
        top_rows = pd.concat([head.reset_index(drop=True), shown[extra]], axis=1)
    return StreamResult(tally, top_rows, out_path, "compiled" if engine else f"pipeline ({why})")


__all__ = ["DEFAULT_BATCH_SIZE", "StreamResult", "Tally", "can_stream", "score_file"]
