"""Settings: every setting of a project (:mod:`~leadscore.config.settings`, the source
settings in :mod:`~leadscore.config.sources`) and the one resolver that says which value
wins (:mod:`~leadscore.config.resolve`): defaults → ``leadscore.toml`` → ``LEADSCORE_*``
environment → values saved from the dashboard → command-line flags.

Example ``leadscore.toml``::

    [roles]
    target = "Converted"
    id = "Prospect ID"
    exclude = ["Lead Number"]

    [business]
    value_per_conversion = 120
    cost_per_contact = 15
    missed_conversion_cost = 120
"""

from leadscore.config.resolve import (
    BUSINESS_KEY,
    DASHBOARD_SECTIONS,
    SEGMENTS_KEY,
    Resolved,
    SavedReader,
    SavedValues,
    SettingValue,
    Source,
    load_settings,
    mask_url,
    resolve_settings,
)
from leadscore.config.settings import (
    CONFIG_ENV,
    DEFAULT_CONFIG_FILE,
    DEFAULT_MISSING_VALUES,
    DEFAULT_NEGATIVE_LABELS,
    DEFAULT_POSITIVE_LABELS,
    Business,
    CapacitySettings,
    ExplorationSettings,
    LeakageSettings,
    Roles,
    Segments,
    ServiceSettings,
    Settings,
)
from leadscore.config.sources import MixpanelSettings, S3Settings

__all__ = [
    "BUSINESS_KEY",
    "CONFIG_ENV",
    "DASHBOARD_SECTIONS",
    "DEFAULT_CONFIG_FILE",
    "DEFAULT_MISSING_VALUES",
    "DEFAULT_NEGATIVE_LABELS",
    "DEFAULT_POSITIVE_LABELS",
    "SEGMENTS_KEY",
    "Business",
    "CapacitySettings",
    "ExplorationSettings",
    "LeakageSettings",
    "MixpanelSettings",
    "Resolved",
    "Roles",
    "S3Settings",
    "SavedReader",
    "SavedValues",
    "Segments",
    "ServiceSettings",
    "SettingValue",
    "Settings",
    "Source",
    "load_settings",
    "mask_url",
    "resolve_settings",
]
