"""CRM fields and behaviour in one model (issue 20): both beat each alone.

On the event demo (``write_demo_events``: the generator plants effects in the events and in
the CRM table), builds the training table the way ``leadscore features EVENTS --labels
OUTCOMES --leads CRM`` does (each lead's CRM fields as of its outcome, behaviour before
it) and the fresh leads' table the way ``leadscore score --events --leads`` does, then
trains the same family three times — on the CRM fields only, on the event features only,
on both — and prints each model's AUC on the fresh leads (whose outcomes the truth
holds), with the AUC of the true probability as the ceiling. The check: both > each alone.

Run: ``.venv/bin/python bench/crm_events.py [--leads 20000] [--new-leads 10000]
[--seed 42] [--families lightgbm,logreg_l2]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

from leadscore.demo import write_demo_events
from leadscore.features.table import ID, TARGET, TIME, build_lead_table
from leadscore.modeling.model import LeadModel

SETS = ("crm", "events", "both")


@dataclass
class Tables:
    """The training table, the fresh leads' table with their outcomes, the CRM columns
    and the truth's probability for the fresh leads."""

    train: pd.DataFrame
    fresh: pd.DataFrame
    fresh_y: pd.Series
    crm_columns: list[str]
    truth: pd.Series


def tables(folder: Path, leads: int, new_leads: int, seed: int) -> Tables:
    """Write the demo to ``folder`` and build both tables from its files."""
    paths = write_demo_events(folder, leads=leads, new_leads=new_leads, seed=seed, messy=False)
    built = build_lead_table(paths["events"], outcomes=paths["outcomes"], leads=paths["crm"])
    fresh = build_lead_table(paths["new_events"], builder=built.builder, leads=paths["new_crm"])
    truth = pd.read_csv(paths["truth"], dtype={ID: str}).set_index(ID)
    fresh_table = fresh.table.set_index(ID).loc[truth.index.intersection(fresh.table[ID])]
    return Tables(
        train=built.table,
        fresh=fresh_table.reset_index(),
        fresh_y=truth.loc[fresh_table.index, "converted"].astype(int),
        crm_columns=list(built.crm_fields),
        truth=truth.loc[fresh_table.index, "true_probability"],
    )


def columns(data: Tables, which: str) -> list[str]:
    """The inputs of one feature set: the CRM fields, the event features, or both."""
    inputs = [c for c in data.train.columns if c not in (ID, TARGET, TIME)]
    if which == "crm":
        return [c for c in inputs if c in data.crm_columns]
    if which == "events":
        return [c for c in inputs if c not in data.crm_columns]
    return inputs


def holdout_auc(data: Tables, family: str, which: str, seed: int = 0) -> float:
    """AUC on the fresh leads of ``family`` trained on one feature set."""
    inputs = columns(data, which)
    model = LeadModel(family, cv=3, random_state=seed).fit(
        data.train[inputs], data.train[TARGET].eq("yes").astype(int)
    )
    scores = model.predict_proba(data.fresh[inputs])[:, 1]
    return float(roc_auc_score(data.fresh_y, scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--new-leads", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--families", default="lightgbm,logreg_l2")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="leadscore-crm-bench-") as tmp:
        data = tables(Path(tmp), args.leads, args.new_leads, args.seed)
    print(
        f"demo seed {args.seed}: {len(data.train):,} history leads "
        f"({data.train[TARGET].eq('yes').mean():.1%} converted), {len(data.fresh):,} fresh "
        f"leads ({data.fresh_y.mean():.1%} converted); {len(columns(data, 'crm'))} CRM "
        f"fields, {len(columns(data, 'events'))} event features "
        f"({time.perf_counter() - started:.1f} s)"
    )
    ceiling = roc_auc_score(data.fresh_y, data.truth)
    print(f"{'family':<12} {'CRM only':>9} {'events only':>12} {'both':>7}   truth (ceiling)")
    verdicts = []
    for family in args.families.split(","):
        began = time.perf_counter()
        auc = {which: holdout_auc(data, family, which) for which in SETS}
        ok = auc["both"] > max(auc["crm"], auc["events"])
        verdicts.append(ok)
        print(
            f"{family:<12} {auc['crm']:>9.3f} {auc['events']:>12.3f} {auc['both']:>7.3f}   "
            f"{ceiling:.3f}   both beats each alone: {'yes' if ok else 'NO'} "
            f"({time.perf_counter() - began:.0f} s)"
        )
    if not all(verdicts):
        raise SystemExit("a model on both sources did not beat each source alone")


if __name__ == "__main__":
    main()
