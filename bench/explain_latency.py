"""Per-lead reasons: the latency they add to scoring, single leads and batches.

Trains a LightGBM lead model (300 trees) on demo leads, then times scoring with and
without reasons for one lead at a time and for a batch — through the batch path and the
real-time path the API uses — and prints the added latency per lead.
Run: ``.venv/bin/python bench/explain_latency.py``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np

os.environ.setdefault("LEADSCORE_TRACKING", "false")  # a benchmark, not an experiment

from leadscore.demo import generate_leads
from leadscore.modeling.model import LeadModel
from leadscore.scoring.realtime.scorer import FastScorer
from leadscore.scoring.reasons import reasons


def per_call(func: Callable[[], object], repeats: int) -> float:
    func()  # warm up
    started = time.perf_counter()
    for _ in range(repeats):
        func()
    return (time.perf_counter() - started) / repeats


def main() -> None:
    table = generate_leads(20_000, seed=5).table
    X = table.drop(columns=["lead_id", "converted", "sales_status"])
    model = LeadModel("lightgbm", cv=5).fit(X, table["converted"])
    members = model.pipeline_.members_
    trees = members[0].named_steps["model"].n_estimators
    print(f"LightGBM, {len(members)} bagged fold models × {trees} trees, {X.shape[1]} fields")
    one = X.head(1)
    batch = X.head(1000)
    score_one = per_call(lambda: model.score_leads(one), 30)
    reasons_one = per_call(lambda: reasons(model, one, 3), 30)
    score_batch = per_call(lambda: model.score_leads(batch), 3) / len(batch)
    reasons_batch = per_call(lambda: reasons(model, batch, 3), 3) / len(batch)
    print(f"single lead: score {score_one * 1e3:.2f} ms, reasons add {reasons_one * 1e3:.2f} ms")
    print(
        f"batch of {len(batch):,}: score {score_batch * 1e3:.3f} ms/lead, reasons add "
        f"{reasons_batch * 1e3:.3f} ms/lead"
    )
    # Tree SHAP costs grow with the number of trees: the bag holds len(members) boosters.
    per_booster = reasons_batch / len(members) * 300 / trees
    print(f"reasons per lead for one 300-tree booster: {per_booster * 1e3:.3f} ms (target: < 2 ms)")
    # The service's path: one lead as a dict, compiled once (leadscore.scoring.realtime).
    fast = FastScorer(model)
    row = one.iloc[0].to_dict()
    fast_score = per_call(lambda: fast.score(row), 300)
    fast_reasons = per_call(lambda: fast.score(row, reasons=3), 300) - fast_score
    print(
        f"real-time path ({fast.mode}), one lead: score {fast_score * 1e3:.3f} ms, reasons add "
        f"{fast_reasons * 1e3:.3f} ms ({fast_reasons / len(members) * 300 / trees * 1e3:.3f} ms "
        "per 300-tree booster)"
    )
    assert np.isfinite(score_one)


if __name__ == "__main__":
    main()
