"""leadscore: predictive lead scoring.

Learn from past leads which ones convert, then score new ones so the team calls the
best first and knows why.

Example
-------
Check the data first: what would leak the outcome, what is missing or useless.

>>> from leadscore import LeadModel, audit
>>> leads.to_csv("leads.csv", index=False)
>>> report = audit("leads.csv", target="converted")
>>> "sales_status" in [s.column for s in report.leakage_suspects]  # filled in after contact
True

``compare("leads.csv", target="converted")`` then ranks the model families by
cross-validation, and ``train("leads.csv", target="converted", out="model/")`` fits the best
on all leads, calibrates it, chooses the contact threshold and saves it (see
:func:`leadscore.modeling.compare.compare` and :func:`leadscore.lifecycle.train.train`).
One family can also be fitted directly; a saved model scores new leads, best first:

>>> X = leads.drop(columns=["lead_id", "sales_status", "converted"])
>>> model = LeadModel("logreg_l2", cv=3).fit(X, leads["converted"], id_column="lead_id")
>>> _ = model.save("model/")
>>> LeadModel.load("model/").score_leads(leads.head(3)).columns.tolist()
['lead_id', 'score', 'score_100', 'segment', 'rank', 'contact']
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leadscore.config import Business, Roles, Segments, Settings, load_settings
    from leadscore.errors import LeadscoreError
    from leadscore.lifecycle.compare import compare
    from leadscore.lifecycle.train import train
    from leadscore.live.batch import score
    from leadscore.modeling.audit import AuditReport, audit
    from leadscore.modeling.leaderboard import Leaderboard
    from leadscore.modeling.model import LeadModel

# imported on first use (PEP 562): ``import leadscore`` alone, or a command that needs one
# corner of the package, does not pay for training, comparing and auditing
_WHERE = {
    "AuditReport": "leadscore.modeling.audit",
    "Business": "leadscore.config",
    "LeadModel": "leadscore.modeling.model",
    "Leaderboard": "leadscore.modeling.leaderboard",
    "LeadscoreError": "leadscore.errors",
    "Roles": "leadscore.config",
    "Segments": "leadscore.config",
    "Settings": "leadscore.config",
    "audit": "leadscore.modeling.audit",
    "compare": "leadscore.lifecycle.compare",
    "load_settings": "leadscore.config",
    "score": "leadscore.live.batch",
    "train": "leadscore.lifecycle.train",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'leadscore' has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


__all__ = [
    "AuditReport",
    "Business",
    "LeadModel",
    "Leaderboard",
    "LeadscoreError",
    "Roles",
    "Segments",
    "Settings",
    "audit",
    "compare",
    "load_settings",
    "score",
    "train",
]
__version__ = "0.1.0"
