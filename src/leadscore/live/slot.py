"""The model being served: :class:`ModelSlot` holds it and swaps it atomically on reload
(:class:`ServingModel`: the loaded model, its compiled scorer and where it came from).

What the API does with it — score, store, re-score from events, read back — is
:class:`leadscore.live.LiveScoring`.

Example
-------
>>> model.save("model/")
PosixPath('model')
>>> slot = ModelSlot.load("model/", Settings())  # or "champion": the registry's alias
>>> slot.current.model.model, slot.current.version.startswith("model@")
('logreg_l2', True)
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadscore.config import Settings
from leadscore.errors import LeadscoreError
from leadscore.lifecycle.loader import Loaded, load_for_serving
from leadscore.modeling.folder import METADATA_FILE
from leadscore.modeling.model import LeadModel
from leadscore.scoring.realtime.scorer import FastScorer

#: the interpreter's thread switch interval while a model loads beside live requests
RELOAD_SWITCH_INTERVAL_S = 0.0005


# ----------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class ServingModel:
    """A loaded model, compiled for single leads, with where it came from."""

    model: LeadModel
    scorer: FastScorer
    version: str
    reference: str
    loaded_at: datetime
    #: what the reference pointed at when loaded (see :meth:`ModelSlot.reload`)
    identity: str | None = None
    #: how long loading took, and whether the scorer was read as saved (not compiled)
    load_seconds: float = 0.0
    precompiled: bool = False
    #: what the layers above derive once per model (the service's request model)
    extras: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def scores_events(self) -> bool:
        """Whether the model was trained on event features (so events can re-score)."""
        return getattr(self.model, "feature_builder_", None) is not None


class ModelSlot:
    """The model being served; :meth:`reload` swaps it while requests keep flowing.

    Requests take :attr:`current` once and use that object to the end, so a reload never
    mixes two models within one request; the swap is a single reference assignment.

    Parameters
    ----------
    reference:
        ``champion`` / ``challenger`` / a registry version, or a model folder.
    settings:
        Project settings (registry location).

    Attributes
    ----------
    preparers:
        Called with each newly loaded model before it is swapped in (what a layer above
        derives from it, built before the first request needs it).
    """

    def __init__(self, reference: str, settings: Settings) -> None:
        self.reference = reference
        self.settings = settings
        self.preparers: list[Callable[[ServingModel], None]] = []
        self._lock = threading.Lock()
        self._current: ServingModel | None = None

    @classmethod
    def load(cls, reference: str, settings: Settings) -> ModelSlot:
        slot = cls(reference, settings)
        slot.reload()
        return slot

    @property
    def current(self) -> ServingModel:
        serving = self._current
        if serving is None:
            raise LeadscoreError(f"no model loaded yet (model {self.reference!r})")
        return serving

    @property
    def ready(self) -> bool:
        return self._current is not None

    def named(self) -> str | None:
        """What the reference names now (see :meth:`reload`), without loading it."""
        return self._identity()

    def _identity(self) -> str | None:
        """What the reference names now, found without loading the model: the checksum of
        a model folder's artifact, or the registry version an alias points to (None if it
        cannot be told: the reload then loads)."""
        try:
            folder = Path(self.reference)
            if folder.is_dir():
                meta = json.loads((folder / METADATA_FILE).read_text())
                return f"file:{folder.resolve()}:{meta['sha256']}"
            from leadscore.lifecycle.registry import Registry

            return f"registry:{Registry(self.settings).resolve(self.reference)}"
        except (OSError, ValueError, KeyError, LeadscoreError):
            return None

    def reload(self) -> ServingModel:
        """Load the reference again (e.g. the champion after a promotion) and swap it in.

        Where the reference still names the model being served (same artifact, same
        registry version), nothing is reloaded. A model folder's saved scorer is swapped
        in within milliseconds (:mod:`leadscore.lifecycle.loader`); one without is loaded
        and compiled, a hundred milliseconds and more of the interpreter that the
        requests being answered need. A model that fails to load leaves the current one
        serving; the :attr:`preparers` run on the new one before it is swapped in.
        """
        with self._lock:  # one reload at a time; requests do not wait for it
            identity = self._identity()
            current = self._current
            if current is not None and identity is not None and identity == current.identity:
                return current
            started = time.perf_counter()
            loaded = self._load()
            serving = ServingModel(
                model=loaded.model,
                scorer=loaded.scorer,
                version=loaded.version,
                reference=self.reference,
                loaded_at=datetime.now(UTC),
                identity=identity,
                load_seconds=time.perf_counter() - started,
                precompiled=loaded.precompiled,
            )
            for prepare in self.preparers:
                prepare(serving)
            self._current = serving
            return serving

    def _load(self) -> Loaded:
        # Loading holds the interpreter (a few milliseconds with a precompiled scorer, a
        # hundred and more without); requests being answered meanwhile wait for it at
        # every hand-over, up to the switch interval (5 ms) each time: a shorter one
        # while loading keeps their waits short.
        interval = sys.getswitchinterval()
        sys.setswitchinterval(min(interval, RELOAD_SWITCH_INTERVAL_S))
        try:
            return load_for_serving(self.reference, self.settings)
        finally:
            sys.setswitchinterval(interval)
