"""Errors a user can act on.

Every problem caused by the input (a file, a column, a value, an artifact) raises a
subclass of :class:`LeadscoreError` whose message names the thing at fault. The CLI
prints these messages without a traceback and exits with status 2.
"""

from __future__ import annotations


class LeadscoreError(ValueError):
    """Base class for problems the user can fix."""


class DataError(LeadscoreError):
    """The input file or table cannot be read or is unusable (empty, missing, unparsable)."""


class SchemaError(LeadscoreError):
    """A column is missing, has the wrong type, or holds values that cannot be interpreted."""


class ArtifactError(LeadscoreError):
    """A saved model directory is missing, tampered with, or incompatible."""


class ConfigError(LeadscoreError):
    """A setting in leadscore.toml or the environment is invalid."""
