"""Loading a model to serve: its compiled scorer where one was saved, else compiled now.

A saved model folder holds the compiled real-time scorer beside the model
(:mod:`leadscore.scoring.bundle`); reading it takes a few milliseconds, where loading the
model and compiling the scorer takes 100–150 ms of the interpreter that a service's
requests need. Folders without one (saved by other code, or of a family the scorer runs
through its estimators) are loaded and compiled.

``load_for_serving("champion", settings)`` loads the registry's champion the same way.

Example
-------
>>> from leadscore.config import Settings
>>> from leadscore.lifecycle.artifacts import save_model
>>> loaded = load_for_serving(str(save_model(model, "model/")), Settings())
>>> loaded.precompiled, loaded.version
(True, 'model@...')
>>> loaded.scorer.score({"source": "google"}).segment
'cold'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from leadscore.config import Settings
from leadscore.modeling.folder import METADATA_FILE, read_trusted_metadata
from leadscore.modeling.model import LeadModel
from leadscore.scoring.bundle import read_scorer
from leadscore.scoring.realtime.scorer import FastScorer


@dataclass(frozen=True)
class Loaded:
    """A model ready to serve: the model, its compiled scorer, and its version.

    Where the scorer came from ``scorer.bin``, :attr:`model` has no fitted estimators
    (:meth:`~leadscore.modeling.model.LeadModel.without_estimators`): the scorer does not
    call them.
    """

    model: LeadModel
    scorer: FastScorer
    version: str
    #: whether the scorer was read as saved (rather than compiled at load)
    precompiled: bool


def model_version(reference: str, model: LeadModel, settings: Settings) -> str:
    """``"7"`` for registry version 7; ``folder@<hash>`` for a model folder."""
    if Path(reference).is_dir():
        try:  # the saved artifact's checksum: two different models never share a version
            artifact = json.loads((Path(reference) / METADATA_FILE).read_text()).get("sha256")
        except (OSError, ValueError):
            artifact = None
        digest = hashlib.sha256(
            f"{model.metadata_.get('trained_at')}|{model.metadata_.get('sha256')}|{artifact}".encode()
        ).hexdigest()[:8]
        return f"{Path(reference).resolve().name}@{digest}"
    from leadscore.lifecycle.registry import Registry

    return str(Registry(settings).resolve(reference))


def load_folder(folder: Path) -> tuple[LeadModel, FastScorer, bool]:
    """A saved model folder's model and scorer, and whether the scorer was precompiled."""
    scorer = read_scorer(folder, read_trusted_metadata(folder))
    if scorer is not None:
        scorer.warm()  # numba's kernels, before the first lead needs them
        return scorer.model, scorer, True
    model = LeadModel.load(folder)
    return model, FastScorer(model), False


def load_for_serving(reference: str, settings: Settings) -> Loaded:
    """Load ``reference`` (a model folder or a registry reference) ready to serve."""
    from leadscore.lifecycle.registry import model_folder

    with model_folder(reference, settings) as folder:
        model, scorer, precompiled = load_folder(folder)
    return Loaded(model, scorer, model_version(reference, model, settings), precompiled)
