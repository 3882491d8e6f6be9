"""Scoring: what a model's probability means for a lead, and getting it fast.

Batches of leads from files (:mod:`.batch`) and single leads in real time
(:mod:`.realtime`), with exactly the same scores; the per-field contributions behind every
score (:mod:`.contributions`) and the reasons a person reads (:mod:`.reasons`); the
compiled kernels both run on (:mod:`.treeshap`, :mod:`.occlusion`, :mod:`.dense`) and the
compiled scorer saved beside a model (:mod:`.bundle`).
"""
