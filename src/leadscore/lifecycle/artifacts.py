"""A model folder as training leaves it: the model and, beside it, its compiled scorer.

:meth:`LeadModel.save <leadscore.modeling.model.LeadModel.save>` writes what modelling
knows — the fitted model, its metadata and checksum, the out-of-fold scores. A folder a
service should swap in within milliseconds also carries the real-time scorer compiled
once (``scorer.bin``, :mod:`leadscore.scoring.bundle`), and LightGBM's boosters saved with
their trees already parsed for the tree SHAP kernel; both come from scoring, a layer above
modelling, so they are added here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leadscore.modeling.model import LeadModel


def save_model(model: LeadModel, directory: str | Path) -> Path:
    """Save ``model`` as a complete model folder: ``model.joblib``, ``metadata.json`` and,
    where its family has a compiled real-time form, ``scorer.bin``.

    Example
    -------
    >>> save_model(model, "model/")
    PosixPath('model')
    >>> sorted(path.name for path in Path("model").iterdir())
    ['evaluation.parquet', 'metadata.json', 'model.joblib', 'scorer.bin']
    """
    from leadscore.scoring.bundle import write_scorer
    from leadscore.scoring.treeshap.parse import keep_parsed_trees  # numba: imported late

    def scorer(fitted: LeadModel, folder: Path, checksum: str) -> dict[str, Any] | None:
        written = write_scorer(fitted, folder, checksum)  # compiled now: swapped in later
        return {"scorer": written} if written else None

    if hasattr(model, "pipeline_"):
        keep_parsed_trees(model.pipeline_)  # saved parsed: the service reloads it faster
    return model.save(directory, add=scorer)
