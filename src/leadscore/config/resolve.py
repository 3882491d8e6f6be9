"""The one settings resolver.

Every face (the command line, the scoring service, the dashboard) and retraining get
their settings from :func:`resolve_settings`, which lays five layers over each other,
each later one winning:

1. ``default`` — the defaults of :class:`~leadscore.config.Settings`;
2. ``file`` — ``leadscore.toml`` in the working directory (or ``--config`` /
   ``LEADSCORE_CONFIG``);
3. ``env`` — ``LEADSCORE_*`` environment variables (nested with ``__``);
4. ``dashboard`` — business values and segments saved on the dashboard's Settings page
   (kept in the score store; the caller reads them, this layer imports no store);
5. ``flag`` — command-line flags (or keyword arguments from Python).

:class:`Resolved` keeps, for every setting, which layer its effective value came from;
``leadscore config show`` prints them.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import EnvSettingsSource, TomlConfigSettingsSource

from leadscore.config.settings import (
    CONFIG_ENV,
    DEFAULT_CONFIG_FILE,
    Settings,
    arguments_only,
)
from leadscore.errors import ConfigError, LeadscoreError

Source = Literal["default", "file", "env", "dashboard", "flag"]

#: keys in the score store under which the dashboard's Settings page saves its values;
#: each is also the settings section it overrides
BUSINESS_KEY = "business"
SEGMENTS_KEY = "segments"
DASHBOARD_SECTIONS: tuple[str, ...] = (BUSINESS_KEY, SEGMENTS_KEY)

#: flags that add to the configured list instead of replacing it (``--exclude``, ``--keep``)
EXTENDING_FLAGS = frozenset({"roles.exclude", "roles.keep", "roles.point_in_time"})

#: settings shown masked: credentials, and URLs that may carry a password
CREDENTIALS = frozenset({"s3.access_key_id", "mixpanel.username"})
MASK = "********"

#: the dashboard's saved sections: ``{"business": {...}, "segments": {...}}``
SavedValues = Mapping[str, Mapping[str, Any] | None]
#: reads the saved sections given the settings without them (for the store's URL)
SavedReader = Callable[[Settings], SavedValues | None]


class SettingValue(NamedTuple):
    """One effective setting: its dotted name, its value (secrets masked), its source."""

    name: str
    value: Any
    source: Source


@dataclass(frozen=True)
class Resolved:
    """The effective settings and where each value came from.

    ``sources`` maps a dotted setting name (``business.cost_per_contact``) to the layer
    that set it; a name that is not there has its default. ``notes`` says what could not
    be used (a saved value that no longer validates, a store that could not be read).
    """

    settings: Settings
    file: Path
    sources: Mapping[str, Source] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def source(self, name: str) -> Source:
        """Where the effective value of setting ``name`` came from.

        Example
        -------
        >>> resolve_settings(flags={"cv_folds": 3}).source("cv_folds")
        'flag'
        """
        return self.sources.get(name, "default")

    def values(self) -> list[SettingValue]:
        """Every setting (nested ones by their dotted name) with its effective value and
        source, in declaration order; credentials and URL passwords masked.

        Example
        -------
        >>> [v for v in resolve_settings().values() if v.name == "business.cost_per_contact"]
        [SettingValue(name='business.cost_per_contact', value=15.0, source='default')]
        """
        return [
            SettingValue(name, _shown(name, value), self.source(name))
            for name, value in _fields(self.settings)
        ]


def resolve_settings(
    config: str | Path | None = None,
    *,
    saved: SavedValues | SavedReader | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Resolved:
    """The effective settings: defaults → file → environment → dashboard → flags.

    Parameters
    ----------
    config:
        The settings file; it must exist when given. Default: ``LEADSCORE_CONFIG``, else
        ``./leadscore.toml`` when there is one.
    saved:
        The values saved from the dashboard, ``{"business": {...}, "segments": {...}}``,
        or a function that reads them given the settings without them (which name the
        store: ``database_url``). A section that no longer validates is left out, and so
        are the saved values when the function raises a
        :class:`~leadscore.errors.LeadscoreError`; :attr:`Resolved.notes` says so.
    flags:
        Values that win over everything, by dotted name (``{"roles.target": "Converted",
        "business.cost_per_contact": 20}``); ``None`` values are ignored, a model or a
        mapping sets every field it holds, and ``roles.exclude`` / ``roles.keep`` add to
        the configured lists.

    Raises :class:`~leadscore.errors.ConfigError` for a missing or unreadable file and
    for invalid values in the file, the environment or the flags.

    Example
    -------
    >>> resolved = resolve_settings(
    ...     saved={"business": {"cost_per_contact": 30.0}},
    ...     flags={"business.value_per_conversion": 500.0},
    ... )
    >>> resolved.settings.business.cost_per_contact, resolved.source("business.cost_per_contact")
    (30.0, 'dashboard')
    >>> resolved.source("business.value_per_conversion")
    'flag'
    """
    path = _settings_file(config)
    layers = _Layers()
    layers.apply(_read_file(path), "file")
    layers.apply(_read_env(), "env")
    layers.settings()  # a bad file or environment fails here, whatever the flags say
    given = _flag_leaves(flags or {})
    notes: list[str] = []
    if saved is not None:
        before = layers.copy()
        before.apply(given, "flag")
        values: SavedValues | None = None
        if not callable(saved):
            values = saved
        else:
            try:
                values = saved(before.settings())
            except LeadscoreError as exc:
                notes.append(f"the values saved from the dashboard were not read: {exc}")
        for key in DASHBOARD_SECTIONS:
            section = values.get(key) if values else None
            if not section:
                continue
            trial = layers.copy()
            trial.apply({key: dict(section)}, "dashboard")
            try:
                trial.settings()
            except ConfigError as exc:
                what = "business values" if key == BUSINESS_KEY else f"{key} settings"
                notes.append(f"the dashboard's saved {what} are not used: {exc}")
                continue
            layers = trial
    layers.apply(given, "flag")
    return Resolved(layers.settings(), path, dict(layers.sources), tuple(notes))


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from the file (default ``./leadscore.toml`` if present) and the environment,
    with ``overrides`` on top: :func:`resolve_settings` without the dashboard's values.

    Parameters
    ----------
    config:
        Path of a TOML file. When given it must exist.
    **overrides:
        Settings that win over file and environment (e.g. ``cv_folds=3``).

    Example
    -------
    >>> settings = load_settings(cv_folds=3)
    >>> settings.business.cost_per_contact
    15.0
    """
    return resolve_settings(config, flags=overrides).settings


def mask_url(url: str) -> str:
    """``url`` with its password (in the address or the query string) replaced by ``***``.

    Example
    -------
    >>> mask_url("postgresql://me:secret@db:5432/crm")
    'postgresql://me:***@db:5432/crm'
    """
    parts = urllib.parse.urlsplit(url)
    user, at, host = parts.netloc.rpartition("@")
    if at and ":" in user:
        parts = parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}")
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    if any(k.lower() in _SECRET_PARAMETERS for k, _ in pairs):
        hidden = [(k, "***" if k.lower() in _SECRET_PARAMETERS else v) for k, v in pairs]
        parts = parts._replace(query=urllib.parse.urlencode(hidden, safe="*"))
    if parts == urllib.parse.urlsplit(url):
        return url
    # written out: urlunsplit drops the "//" of an empty host (sqlite:///file)
    text = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return (
        text
        + (f"?{parts.query}" if parts.query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )


_SECRET_PARAMETERS = frozenset({"password", "passwd", "secret", "token"})


# ----------------------------------------------------------------------------- layers


class _Layers:
    """The raw values laid over each other so far, and which layer set each."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.sources: dict[str, Source] = {}

    def copy(self) -> _Layers:
        other = _Layers()
        other.values = _deep_copy(self.values)
        other.sources = dict(self.sources)
        return other

    def apply(self, layer: Mapping[str, Any], source: Source) -> None:
        for name, value in _leaves(layer):
            if source == "flag" and name in EXTENDING_FLAGS:
                value = list(dict.fromkeys([*(self._get(name) or []), *value]))
            self._set(name, value)
            self.sources[name] = source

    def settings(self) -> Settings:
        """The layers so far as validated settings (nothing else is read)."""
        try:
            with arguments_only():
                return Settings(**self.values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigError(f"invalid settings: {problems}") from None

    def _get(self, name: str) -> Any:
        node: Any = self.values
        for part in name.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def _set(self, name: str, value: Any) -> None:
        *parents, last = name.split(".")
        node = self.values
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[last] = value


def _settings_file(config: str | Path | None) -> Path:
    if config is not None:
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        return dict(TomlConfigSettingsSource(Settings, toml_file=path)())
    except (OSError, ValueError) as exc:  # a TOML syntax error surfaces as ValueError
        raise ConfigError(f"cannot read settings: {exc}") from None


def _read_env() -> dict[str, Any]:
    try:
        return dict(EnvSettingsSource(Settings)())
    except ValueError as exc:  # e.g. a list variable that is not JSON
        raise ConfigError(f"cannot read settings: {exc}") from None


def _flag_leaves(flags: Mapping[str, Any]) -> dict[str, Any]:
    """Flags as a nested mapping; models and mappings set every field they hold."""
    nested: dict[str, Any] = {}
    for name, value in flags.items():
        if value is None:
            continue
        if isinstance(value, BaseModel):
            value = value.model_dump()
        leaves = _leaves(value, f"{name}.") if isinstance(value, Mapping) else [(name, value)]
        for leaf, leaf_value in leaves:
            *parents, last = leaf.split(".")
            node = nested
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = leaf_value
    return nested


def _leaves(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted name, value)`` of every non-mapping value in ``data``."""
    for key, value in data.items():
        if isinstance(value, Mapping):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _deep_copy(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in data.items()}


def _fields(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted name, value)`` of every field of ``model``, nested models flattened."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from _fields(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def _shown(name: str, value: Any) -> Any:
    """A value as it may be shown: secrets masked, paths as text."""
    if value is None:
        return None
    if isinstance(value, SecretStr) or name in CREDENTIALS:
        return MASK
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str) and "://" in value:
        return mask_url(value)
    return value
