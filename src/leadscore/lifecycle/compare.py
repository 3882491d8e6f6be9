"""The comparison as a user runs it: :func:`leadscore.modeling.compare.compare`, recorded as
an MLflow run (parameters, the leaderboard, one nested run per model family)."""

from __future__ import annotations

from typing import Any

from leadscore.config import Settings
from leadscore.data.lead_table import LeadTable
from leadscore.data.masking import mask_source
from leadscore.data.sources import TableLike
from leadscore.modeling.compare import compare as compare_models
from leadscore.modeling.leaderboard import Leaderboard


def compare(
    data: TableLike | LeadTable,
    *,
    settings: Settings | None = None,
    track: bool | None = None,
    **options: Any,
) -> Leaderboard:
    """Compare the model families on a lead table by cross-validation, and record it.

    Parameters
    ----------
    data:
        Path, DataFrame or a prepared :class:`LeadTable`.
    settings:
        Project settings (``settings.tracking`` says whether to record by default).
    track:
        Record the comparison as an MLflow run (default: ``settings.tracking``).
    **options:
        As for :func:`leadscore.modeling.compare.compare` (roles, ``models``, ``sort``,
        ``cv``, ``budget``, ``console``, ``show_progress``, …).

    Example (it fits every candidate, so it takes seconds to minutes)::

        board = compare("leads.csv", target="converted")
        board.best, board.run_id  # ('lightgbm', '3f2a…')
    """
    settings = settings or Settings()
    tracking = settings.tracking if track is None else track
    board = compare_models(data, settings=settings, warm_mlflow=tracking, **options)
    if tracking:
        from leadscore.lifecycle.registry import Registry

        board.run_id = Registry(settings).log_comparison(board, source=source_name(data))
    return board


def source_name(data: object) -> str:
    """How a run names the data it was given: the path or URL without its password and
    other secrets, or the kind of object.

    Example
    -------
    >>> source_name("postgresql://me:s3cret@db/crm?table=leads")
    'postgresql://me:***@db/crm?table=leads'
    """
    return mask_source(data)
