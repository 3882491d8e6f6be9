"""Leads cut into bands of score as they are scored: ranking without sorting the file.

A streamed file's leads must come out best first, ranked as
:meth:`~leadscore.modeling.model.LeadModel.score_leads` ranks a whole table (ties in file
order), in memory bounded by the batch. The first pass therefore writes each scored batch
to its temporary file as pieces, one per *band* of scores (:class:`BandedFile`); the bands'
edges are the scores at evenly spaced places of the first batch (:class:`Bands`), so each
band holds about a run's worth of the file's leads. Read back a band at a time, best
first, a band is sorted by score (a stable sort keeps tied leads in file order: a score
lies in one band, and a band's pieces are in file order) and its leads' ranks follow from
the leads of the bands above.

Where the first batch was not like the rest of the file (a file sorted by score, say) a
band may hold far more than a run: :meth:`BandedFile.balanced` says so, and the caller
ranks the pieces as they were written instead (:class:`~leadscore.scoring.ranking.Ranks`),
which needs every score sorted but no band to fit in memory.

Example
-------
>>> bands = Bands(np.array([0.1, 0.4, 0.2, 0.9, 0.6, 0.3]), count=3)
>>> bands.edges.tolist(), bands.of(np.array([0.05, 0.3, 0.95])).tolist()
([0.3, 0.6], [0, 1, 2])
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

#: a band may hold this many runs' leads before the file is ranked the other way
BAND_RUNS = 4


class Bands:
    """Bands of scores with about as many of ``sample``'s scores in each.

    Parameters
    ----------
    sample:
        Scores like those to come (the first batch's).
    count:
        How many bands (fewer where the sample's scores tie across an edge).
    """

    def __init__(self, sample: np.ndarray, count: int) -> None:
        finite = np.sort(sample[~np.isnan(sample)])
        places = (np.arange(1, max(count, 1)) * len(finite)) // max(count, 1)
        # edges are scores, so every lead of a score lies in one band
        self.edges = np.unique(finite[places]) if len(finite) else np.zeros(0)
        self.count = len(self.edges) + 1

    def of(self, p: np.ndarray) -> np.ndarray:
        """Each score's band: 0 for the lowest scores, ``count - 1`` for the highest."""
        return np.searchsorted(self.edges, p, side="right")


def band_count(leads: int, run_size: int, most: int) -> int:
    """Bands for ``leads`` leads of about ``run_size`` each, at most ``most``.

    Example
    -------
    >>> band_count(10_000_000, 131_072, 256), band_count(1_000, 131_072, 256)
    (77, 1)
    """
    return int(min(most, max(1, -(-leads // run_size))))


def write_pieces(
    writer: pa.ipc.RecordBatchFileWriter, batch: pa.RecordBatch, keys: np.ndarray
) -> list[int]:
    """Write ``batch`` as one piece per distinct key (small non-negative integers), each
    piece's rows in the batch's order; returns the pieces' keys, in the order written.

    Example
    -------
    >>> schema = pa.schema([("n", pa.int64())])
    >>> with pa.ipc.new_file(Path("pieces.arrow"), schema) as writer:
    ...     write_pieces(writer, pa.record_batch([pa.array([1, 2, 3])], schema=schema),
    ...                  np.array([1, 0, 1]))
    [0, 1]
    """
    small = keys.astype(np.uint16) if len(keys) and keys.max() < 1 << 16 else keys
    order = np.argsort(small, kind="stable")  # a radix sort of small integers
    ordered_keys = keys[order]
    cuts = np.flatnonzero(np.diff(ordered_keys)) + 1
    ordered = batch.take(pa.array(order)) if len(cuts) else batch
    written = []
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(order)], strict=True):
        if hi > lo:
            writer.write_batch(ordered.slice(int(lo), int(hi - lo)))
            written.append(int(ordered_keys[lo]))
    return written


class BandedFile:
    """The first pass's temporary file: every batch written as one piece per band.

    Parameters
    ----------
    path:
        The Arrow IPC file to write.
    schema:
        The batches' schema; one column is ``score``.

    Example
    -------
    >>> schema = pa.schema([("lead", pa.string()), ("score", pa.float64())])
    >>> banded = BandedFile(Path("scored.arrow"), schema)
    >>> p = np.array([0.2, 0.9, 0.2, 0.5])
    >>> banded.add(pa.record_batch([pa.array(["a", "b", "c", "d"]), pa.array(p)],
    ...                            schema=schema), p, Bands(p, count=2))
    >>> [t.column("lead").to_pylist() for t in banded.best_first()]
    [['b', 'd'], ['a', 'c']]
    """

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path, self.schema = path, schema
        self.piece_band: list[int] = []
        self.counts = np.zeros(0, dtype=np.int64)
        self.rows = 0
        #: whether a score was NaN: no model scores NaN, and :class:`Ranks` places them
        self.nan = False
        self.sink = pa.OSFile(str(path), "wb")
        self.writer = pa.ipc.new_file(self.sink, schema)

    def add(self, batch: pa.RecordBatch, p: np.ndarray, bands: Bands) -> None:
        """Append ``batch``'s leads, whose scores are ``p``, cut by ``bands``: a piece per
        band, each in file order."""
        self.nan |= bool(np.isnan(p).any())
        band = bands.of(p)
        self.piece_band += write_pieces(self.writer, batch, band)
        if not len(self.counts):
            self.counts = np.zeros(bands.count, dtype=np.int64)
        self.counts += np.bincount(band, minlength=bands.count)
        self.rows += batch.num_rows

    def close(self) -> None:
        """Finish writing (before reading back)."""
        if not self.sink.closed:
            self.writer.close()
            self.sink.close()

    def balanced(self, most: int) -> bool:
        """Whether every band holds at most ``most`` leads (and no score is NaN)."""
        return not self.nan and (not len(self.counts) or int(self.counts.max()) <= most)

    def pieces(self) -> Iterator[pa.RecordBatch]:
        """Every piece as written: for each score, its leads in file order."""
        self.close()
        with pa.OSFile(str(self.path), "rb") as source:
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)

    def scores(self) -> np.ndarray:
        """Every lead's score (in the pieces' order)."""
        return np.concatenate([np.zeros(0)] + [b.column("score").to_numpy() for b in self.pieces()])

    def best_first(self) -> Iterator[pa.Table]:
        """Each band's leads sorted best first (ties in file order) with their ``rank``
        column, best band first: one band in memory at a time."""
        self.close()
        pieces = np.array(self.piece_band, dtype=np.int64)
        order = np.argsort(pieces, kind="stable")
        starts = np.searchsorted(pieces[order], np.arange(len(self.counts) + 1))
        above = 0
        with pa.OSFile(str(self.path), "rb") as source:
            reader = pa.ipc.open_file(source)
            for band in range(len(self.counts) - 1, -1, -1):
                chosen = order[starts[band] : starts[band + 1]]
                if not len(chosen):
                    continue
                table = pa.Table.from_batches([reader.get_batch(int(i)) for i in chosen])
                p = table.column("score").to_numpy()
                best = np.argsort(-p, kind="stable")
                rank = np.arange(above + 1, above + len(p) + 1, dtype=np.int64)
                yield table.take(pa.array(best)).append_column("rank", pa.array(rank))
                above += len(p)


__all__ = ["BAND_RUNS", "BandedFile", "Bands", "band_count", "write_pieces"]
