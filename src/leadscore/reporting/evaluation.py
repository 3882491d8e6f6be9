"""What a model's evaluation is drawn from: the files of a saved model folder, read once.

:func:`load_report_data` reads a model directory saved by ``leadscore train`` — its
``metadata.json``, the out-of-fold scores in ``evaluation.parquet`` and, when present,
``importance.csv`` — into a :class:`ReportData`: the outcomes and scores every evaluation
chart is computed from, and the threshold, cutoffs, business values and metrics saved with
the model. The report (``leadscore report``) and the dashboard's Models page both read it.

Example
-------
>>> from leadscore.reporting.evaluation import load_report_data
>>> _ = model.save("model/")
>>> data = load_report_data("model/")
>>> data.label, len(data.y)
('Logistic regression (L2)', 300)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadscore.config import Business
from leadscore.errors import ArtifactError
from leadscore.modeling.folder import EVALUATION_FILE, IMPORTANCE_FILE, METADATA_FILE
from leadscore.modeling.thresholds import Cutoffs, choose_threshold, profit_curve


@dataclass(frozen=True)
class ReportData:
    """Everything a report is drawn from, read from a model directory.

    Attributes
    ----------
    metadata:
        The parsed ``metadata.json``.
    y:
        Outcome (0/1) of every training lead, from ``evaluation.parquet``.
    score:
        Out-of-fold calibrated probability of every training lead.
    importance:
        ``importance.csv`` (feature, importance, std), or ``None`` when absent.
    """

    metadata: dict[str, Any]
    y: np.ndarray
    score: np.ndarray
    importance: pd.DataFrame | None

    @property
    def label(self) -> str:
        """Readable model name (e.g. "Logistic regression (L2)")."""
        return str(self.metadata.get("model_label") or self.metadata.get("model") or "model")

    @property
    def business(self) -> Business:
        """The value and costs that define profit, as the model was trained with."""
        if self.metadata.get("business_defaults"):
            return Business()  # nobody set them: the defaults, known as such
        return Business.model_validate(self.metadata.get("business") or {})

    @cached_property
    def threshold(self) -> dict[str, float]:
        """The chosen contact threshold and the profits of it and the naive policies.

        Taken from the metadata; recomputed from the scores for models saved without it.
        """
        saved = self.metadata.get("threshold")
        if isinstance(saved, dict) and saved.get("threshold") is not None:
            return saved
        return choose_threshold(self.y, self.score, self.business).to_dict()

    @property
    def cutoffs(self) -> Cutoffs:
        """Contact, hot and warm cutoffs on the calibrated probability."""
        saved = self.metadata.get("cutoffs") or {}
        contact = float(self.threshold["threshold"])
        return Cutoffs(
            contact=number(saved.get("contact"), contact),
            hot=number(saved.get("hot"), contact),
            warm=number(saved.get("warm"), contact),
        )

    @cached_property
    def profit_curve(self) -> pd.DataFrame:
        """Profit of contacting the top-k leads for every k (see ``profit_curve``), exact."""
        return profit_curve(self.y, self.score, self.business)

    @property
    def metrics(self) -> dict[str, Any]:
        """The cross-validated metrics saved with the model (may be empty)."""
        return dict(self.metadata.get("cv_metrics") or {})

    def metric(self, key: str) -> float | None:
        """A saved metric as a finite float, or ``None`` when missing or not a number."""
        value = number(self.metrics.get(key), float("nan"))
        return value if math.isfinite(value) else None


def number(value: Any, default: float) -> float:
    """``value`` as a finite float, else ``default``.

    Example
    -------
    >>> number("0.5", 0.0), number(None, 0.0), number(float("inf"), 1.0)
    (0.5, 0.0, 1.0)
    """
    try:
        value = float(value)
    except (TypeError, ValueError):
        return default
    return value if math.isfinite(value) else default


def load_report_data(model_dir: str | Path) -> ReportData:
    """Read the metadata, out-of-fold scores and importance of a saved model.

    Parameters
    ----------
    model_dir:
        Directory written by ``leadscore train`` (``LeadModel.save``).

    Raises
    ------
    ArtifactError
        When the directory, ``metadata.json`` or ``evaluation.parquet`` is missing or
        unreadable.

    Example
    -------
    >>> _ = model.save("model/")
    >>> data = load_report_data("model/")
    >>> data.label, len(data.y), data.cutoffs == model.cutoffs_
    ('Logistic regression (L2)', 300, True)
    """
    path = Path(model_dir)
    if not path.is_dir():
        raise ArtifactError(f"model directory not found: {path}")
    return ReportData(
        metadata=_read_metadata(path / METADATA_FILE),
        **_read_evaluation(path / EVALUATION_FILE),
        importance=_read_importance(path / IMPORTANCE_FILE),
    )


def _read_metadata(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ArtifactError(
            f"{path.parent} is not a leadscore model directory: {METADATA_FILE} is missing"
        )
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise ArtifactError(f"{path} does not hold a JSON object")
    return meta


def _read_evaluation(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise ArtifactError(
            f"{path.parent} has no {EVALUATION_FILE} (the out-of-fold scores a report is "
            "drawn from); models saved by older leadscore versions lack it: retrain the model"
        )
    try:
        frame = pd.read_parquet(path, columns=["y", "score"])
    except Exception as exc:  # pyarrow raises many kinds; all mean "unusable"
        raise ArtifactError(f"cannot read {path} (needs columns y and score): {exc}") from None
    frame = frame.dropna()
    if frame.empty:
        raise ArtifactError(f"{path} holds no scored leads")
    y = frame["y"].to_numpy().astype(int)
    if not np.isin(y, (0, 1)).all() or len(np.unique(y)) < 2:
        raise ArtifactError(f"{path}: column y must hold both outcomes, as 0 and 1")
    return {"y": y, "score": frame["score"].to_numpy(dtype=float)}


def _read_importance(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return None
    if not {"feature", "importance"} <= set(table.columns) or table.empty:
        return None
    if "std" not in table.columns:
        table["std"] = 0.0
    return table


__all__ = ["ReportData", "load_report_data", "number"]
