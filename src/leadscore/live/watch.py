"""A background thread that keeps a served model current: it reloads the model when its
reference names another one (a new champion in the registry, a model folder replaced).

Every worker process of the service runs one, which is how a reload reaches all workers
under ``leadscore serve --workers N`` (``POST /v1/models/reload`` is answered by one of
them), and how a promotion (``leadscore models promote``, ``leadscore retrain``) is
picked up without a call at all. A check costs what :meth:`ModelSlot.reload` costs when
nothing changed: reading a model folder's ``metadata.json``, or asking the registry which
version an alias names.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from leadscore.live.slot import ModelSlot, ServingModel

log = logging.getLogger("leadscore.service")


class ModelWatcher:
    """Call :meth:`ModelSlot.reload` every ``interval_s`` seconds in a daemon thread.

    Parameters
    ----------
    slot:
        The model being served.
    interval_s:
        Seconds between checks.
    on_swap:
        Called with the new model after each swap (metrics, caches of the old model).

    Example
    -------
    >>> from leadscore.config import Settings
    >>> model.save("model/")
    PosixPath('model')
    >>> slot = ModelSlot.load("model/", Settings())
    >>> watcher = ModelWatcher(slot, 10.0, on_swap=print).start()
    >>> watcher.stop()
    """

    def __init__(
        self,
        slot: ModelSlot,
        interval_s: float,
        on_swap: Callable[[ServingModel], None] | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.slot = slot
        self.interval_s = interval_s
        self.on_swap = on_swap
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failed: str | None = None

    def start(self) -> ModelWatcher:
        self._thread = threading.Thread(target=self._run, name="leadscore-model-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def check(self) -> ServingModel | None:
        """Reload if the reference names another model now; the new model, or ``None``.

        A model that failed to load is not tried again until the reference names yet
        another one (each try would hold the interpreter while requests are answered)."""
        named = self.slot.named()
        if named is not None and named == self._failed:
            return None
        before = self.slot.current if self.slot.ready else None
        try:
            serving = self.slot.reload()
        except Exception:
            self._failed = named
            raise
        if serving is before:
            return None
        log.info(
            "model reference %r now names version %s (loaded in %.0f ms, %s)",
            self.slot.reference, serving.version, serving.load_seconds * 1000,
            "its saved scorer" if serving.precompiled else "scorer compiled at load",
        )  # fmt: skip
        if self.on_swap is not None:
            self.on_swap(serving)
        return serving

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception:  # the model being served stays; the next check tries again
                log.exception(
                    "could not load model %r; still serving the current one (it is tried "
                    "again once the reference names another model)", self.slot.reference,
                )  # fmt: skip
