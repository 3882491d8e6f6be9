"""Scoring: batches of leads from files (:mod:`.batch`) and single leads in real time
(:mod:`.realtime`), with exactly the same scores."""

from leadscore.scoring.batch import score

__all__ = ["score"]
