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

from leadscore.config import Business, Roles, Segments, Settings, load_settings
from leadscore.errors import LeadscoreError
from leadscore.lifecycle.compare import compare
from leadscore.lifecycle.train import train
from leadscore.live.batch import score
from leadscore.modeling.audit import AuditReport, audit
from leadscore.modeling.leaderboard import Leaderboard
from leadscore.modeling.model import LeadModel

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
