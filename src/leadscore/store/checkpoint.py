"""A background thread that keeps SQLite's write-ahead log short (see
:meth:`leadscore.store.session.Database.checkpoint`), so that no request pays for a
checkpoint."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leadscore.store.store import Store

log = logging.getLogger("leadscore.store")


class Checkpointer:
    """Run :meth:`Store.checkpoint` every ``interval_s`` seconds in a daemon thread.

    Parameters
    ----------
    store:
        The score store (nothing happens for PostgreSQL).
    interval_s:
        Seconds between checkpoints (the service's ``checkpoint_interval_s``, 0.25 s); a
        real-time score adds ~12 pages (50 KB) to the log, so at 600 scores/s a pass
        copies ~7 MB.

    Example
    -------
    >>> checkpointer = Checkpointer(store, interval_s=0.25).start()
    >>> checkpointer.stop()
    """

    def __init__(self, store: Store, interval_s: float = 0.25) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.store = store
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Checkpointer:
        if self.store.checkpoint() is None:  # not SQLite on a file: nothing to do
            return self
        self._thread = threading.Thread(target=self._run, name="leadscore-checkpoint", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.store.checkpoint()
            except Exception:  # a failed checkpoint is retried; SQLite's own still runs
                log.exception("WAL checkpoint failed; retrying in %.1f s", self.interval_s)
