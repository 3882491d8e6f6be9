"""Where the dashboard keeps its files, and the settings it runs with.

``leadscore ui`` passes its options to the Streamlit process in the environment:
``LEADSCORE_DATABASE_URL`` / ``LEADSCORE_CONFIG`` as for every command, and

* ``LEADSCORE_UI_DIR`` — the dashboard's folder: data sets loaded in the app and models
  trained there (default ``./dashboard``);
* ``LEADSCORE_UI_MAX_UPLOAD_MB`` — the largest file an upload may be (default 200).

Settings changed by admins in the app (business values, segments, capacity) are kept in
the score store (``app_settings``); :func:`effective_settings` lays them over
``leadscore.toml`` and the environment with the one resolver the CLI and the API use too
(:func:`leadscore.config.resolve_settings`), so a model trained anywhere uses them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from leadscore.config import (
    BUSINESS_KEY,
    SEGMENTS_KEY,
    Resolved,
    Segments,
    Settings,
    resolve_settings,
)
from leadscore.errors import ConfigError
from leadscore.store.saved import saved_settings

if TYPE_CHECKING:
    from leadscore.store import Store

DIR_ENV = "LEADSCORE_UI_DIR"
UPLOAD_ENV = "LEADSCORE_UI_MAX_UPLOAD_MB"
DEFAULT_DIR = "dashboard"
DEFAULT_MAX_UPLOAD_MB = 200

#: keys of the dashboard settings in the store; the business values and segments are
#: under the settings resolver's :data:`leadscore.config.BUSINESS_KEY` and ``SEGMENTS_KEY``
SERVING_KEY = "serving"
DATASET_KEY = "dataset"

__all__ = [
    "BUSINESS_KEY",
    "DATASET_KEY",
    "DEFAULT_DIR",
    "DEFAULT_MAX_UPLOAD_MB",
    "DIR_ENV",
    "SEGMENTS_KEY",
    "SERVING_KEY",
    "UPLOAD_ENV",
    "UIConfig",
    "dashboard_settings",
    "effective_settings",
    "segment_inputs",
    "served_cutoffs_text",
]


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


def dashboard_settings(store: Store, config: str | Path | None = None) -> Resolved:
    """The settings the dashboard runs with, and where each came from: the file and the
    environment with the business values and segments admins saved here on top.

    A saved value that no longer validates (e.g. written by a newer version) is left out
    (the result's ``notes`` say so) rather than locking everyone out of the dashboard.

    Parameters
    ----------
    store:
        The dashboard's score store.
    config:
        The settings file (default: ``LEADSCORE_CONFIG``, else ``./leadscore.toml``).

    Example
    -------
    >>> store.settings.set("business", {"cost_per_contact": 30.0}, by="maria")
    >>> resolved = dashboard_settings(store)
    >>> resolved.settings.business.cost_per_contact, resolved.source("business.cost_per_contact")
    (30.0, 'dashboard')
    """
    return resolve_settings(config, saved=saved_settings(store))


def effective_settings(store: Store, config: str | Path | None = None) -> Settings:
    """The settings of :func:`dashboard_settings`.

    Example
    -------
    >>> store.settings.set("business", {"cost_per_contact": 30.0}, by="maria")
    >>> effective_settings(store).business.cost_per_contact
    30.0
    """
    return dashboard_settings(store, config).settings


def segment_inputs(
    segments: Segments, served: Mapping[str, float] | None
) -> tuple[int | None, int | None]:
    """The scores (0–100) the Settings page's "Hot from" and "Warm from" inputs show.

    With fixed cutoffs, those; with the best-scored share, the cutoffs the served model
    actually uses (its metadata's ``cutoffs``), not numbers it never saw; ``None`` (an
    empty input) where neither says, e.g. while no model is served.

    Parameters
    ----------
    segments:
        The segment settings in effect.
    served:
        The served model's ``cutoffs`` (``hot``, ``warm`` as probabilities), if any.

    Example
    -------
    >>> segment_inputs(Segments(), {"contact": 0.07, "hot": 0.19, "warm": 0.07})
    (19, 7)
    >>> segment_inputs(Segments(hot_cutoff=0.6, warm_cutoff=0.2), None)
    (60, 20)
    >>> segment_inputs(Segments(), None)
    (None, None)
    """
    hot, warm = segments.hot_cutoff, segments.warm_cutoff
    if hot is None and served:
        hot = served["hot"]
    if warm is None and served:
        warm = served["warm"]
    return (None if hot is None else round(hot * 100), None if warm is None else round(warm * 100))


def served_cutoffs_text(label: str, cutoffs: Mapping[str, float]) -> str:
    """What the served model's segments are, in words, for the Settings page.

    Parameters
    ----------
    label:
        The served model's name and version.
    cutoffs:
        Its metadata's ``cutoffs``: ``contact``, ``hot``, ``warm`` as probabilities.

    Example
    -------
    >>> served_cutoffs_text("v3", {"contact": 0.07, "hot": 0.19, "warm": 0.07})
    'The served model, v3, cuts at: hot from score 19, warm from score 7, contact from score 7.'
    """
    hot, warm, contact = (cutoffs[k] * 100 for k in ("hot", "warm", "contact"))
    # one decimal where whole points would print two different cutoffs alike
    alike = round(hot) == round(warm) and hot != warm
    digits = 1 if alike else 0
    return (
        f"The served model, {label}, cuts at: hot from score {hot:.{digits}f}, warm from "
        f"score {warm:.{digits}f}, contact from score {contact:.{digits}f}."
    )
