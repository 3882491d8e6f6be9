"""leadscore: predictive lead scoring.

Learn from past leads which ones convert, then score new ones so the team calls the
best first and knows why.

>>> from leadscore import audit, compare, train, LeadModel  # doctest: +SKIP
>>> report = audit("leads.csv", target="converted")  # doctest: +SKIP
>>> board = compare("leads.csv", target="converted")  # doctest: +SKIP
>>> model = train("leads.csv", target="converted", out="model/")  # doctest: +SKIP
>>> LeadModel.load("model/").score_leads(new_leads)  # doctest: +SKIP
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
