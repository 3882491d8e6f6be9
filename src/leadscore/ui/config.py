"""Where the dashboard keeps its files, and the settings it runs with.

``leadscore ui`` passes its options to the Streamlit process in the environment:
``LEADSCORE_DATABASE_URL`` / ``LEADSCORE_CONFIG`` as for every command, and

* ``LEADSCORE_UI_DIR`` — the dashboard's folder: data sets loaded in the app and models
  trained there (default ``./dashboard``);
* ``LEADSCORE_UI_MAX_UPLOAD_MB`` — the largest file an upload may be (default 200).

Settings changed by admins in the app (business values, segments, capacity) are kept in
the score store (``app_settings``) and laid over ``leadscore.toml`` and the environment
by :func:`effective_settings`.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leadscore.config import Business, Segments, Settings, load_settings
from leadscore.errors import ConfigError

if TYPE_CHECKING:
    from leadscore.store import Store

DIR_ENV = "LEADSCORE_UI_DIR"
UPLOAD_ENV = "LEADSCORE_UI_MAX_UPLOAD_MB"
DEFAULT_DIR = "dashboard"
DEFAULT_MAX_UPLOAD_MB = 200

#: keys of the dashboard settings in the store
BUSINESS_KEY = "business"
SEGMENTS_KEY = "segments"
SERVING_KEY = "serving"
DATASET_KEY = "dataset"


@dataclass(frozen=True)
class UIConfig:
    """The dashboard's own options (see the module docstring)."""

    directory: Path
    max_upload_mb: int

    @classmethod
    def from_env(cls) -> UIConfig:
        """The options as ``leadscore ui`` set them (or their defaults)."""
        raw = os.environ.get(UPLOAD_ENV, str(DEFAULT_MAX_UPLOAD_MB))
        try:
            limit = int(raw)
        except ValueError:
            raise ConfigError(f"{UPLOAD_ENV} must be a whole number of MB, not {raw!r}") from None
        if limit < 1:
            raise ConfigError(f"{UPLOAD_ENV} must be at least 1 MB, not {limit}")
        directory = Path(os.environ.get(DIR_ENV) or DEFAULT_DIR).expanduser().resolve()
        return cls(directory=directory, max_upload_mb=limit)

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


def effective_settings(store: Store, base: Settings | None = None) -> Settings:
    """``base`` (default: ``leadscore.toml`` and the environment) with the business values
    and segment settings admins saved in the dashboard on top.

    A saved value that no longer validates (e.g. written by a newer version) is ignored
    rather than locking everyone out of the dashboard.
    """
    settings = base or load_settings()
    updates: dict[str, Any] = {}
    business = store.get_setting(BUSINESS_KEY)
    if business:
        with contextlib.suppress(ValueError):
            updates["business"] = Business(**{**settings.business.model_dump(), **business})
    segments = store.get_setting(SEGMENTS_KEY)
    if segments:
        with contextlib.suppress(ValueError):
            updates["segments"] = Segments(**{**settings.segments.model_dump(), **segments})
    return settings.model_copy(update=updates) if updates else settings
