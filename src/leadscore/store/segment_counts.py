"""Segment counts kept in memory and moved by this process's own scoring writes.

How many leads are hot, warm and cold is a count over every lead's latest score: a few
milliseconds at tens of thousands of leads, and the work queue (``GET /v1/leads``) wants it
on every call. Only the scoring transaction writes ``latest_scores``, and it knows each
lead's segment before and after, so the counts read once stay exact for this process's
writes by applying those moves; other processes' writes are caught by the counts' age.

The one subtlety is a read racing a write: counts read while a scoring transaction is
running (or ending) may or may not include it, so they are only kept when no transaction
ended during the read and none is running at its end; each transaction, on ending, moves
the counts only if they are current up to it.

Example
-------
>>> counts = SegmentCounts()
>>> token = counts.before_read()
>>> counts.offer(token, {"hot": 1, "warm": 0, "cold": 2})
>>> with counts.writing() as moves:
...     moves += [(None, "hot"), ("cold", "warm")]  # a new hot lead; a cold one warmed
>>> counts.cached(max_age_s=1.0)
{'hot': 2, 'warm': 1, 'cold': 1}
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: a lead's latest segment before a score (None: it had none) and after
Move = tuple[str | None, str]


class SegmentCounts:
    """The segment counts last read, moved by the scoring writes that end after it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0  # scoring transactions in progress
        self._ended = 0  # scoring transactions ended (committed or not)
        #: (read at, monotonic; transactions ended before the read; counts) or None
        self._counts: tuple[float, int, dict[str, int]] | None = None

    @contextmanager
    def writing(self) -> Iterator[list[Move]]:
        """Around one scoring transaction: the caller appends its segment moves to the
        list once it has committed; an exception (nothing committed, or unsure) drops the
        counts instead."""
        moves: list[Move] = []
        with self._lock:
            self._running += 1
        failed = True
        try:
            yield moves
            failed = False
        finally:
            with self._lock:
                self._running -= 1
                kept = self._counts
                if kept is not None and kept[1] == self._ended and not failed:
                    counts = dict(kept[2])
                    for before, after in moves:
                        counts[after] = counts.get(after, 0) + 1
                        if before is not None:
                            counts[before] = counts.get(before, 0) - 1
                    self._counts = (kept[0], self._ended + 1, counts)
                elif kept is not None and kept[1] == self._ended:
                    self._counts = None
                self._ended += 1

    def cached(self, max_age_s: float) -> dict[str, int] | None:
        """The counts, if read within ``max_age_s`` and current with this process's
        scoring writes; else None (read them, and :meth:`offer` them)."""
        with self._lock:
            kept = self._counts
            if kept is None or kept[1] != self._ended or time.monotonic() - kept[0] > max_age_s:
                return None
            return dict(kept[2])

    def before_read(self) -> int:
        """A token to pass to :meth:`offer` with the counts read after this call."""
        with self._lock:
            return self._ended

    def offer(self, token: int, counts: dict[str, int]) -> None:
        """Keep ``counts`` (read after :meth:`before_read` gave ``token``) unless a scoring
        transaction ended meanwhile or is still running (the read may or may not include
        it)."""
        with self._lock:
            if self._ended == token and self._running == 0:
                self._counts = (time.monotonic(), token, dict(counts))
