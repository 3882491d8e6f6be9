"""Monitoring on a large store: how long each view takes (issue 21's benchmark).

Fills a fresh store (PostgreSQL by default: a new schema in the test database at
127.0.0.1:5432; ``--database sqlite`` for a temporary SQLite file) with ``--leads`` leads
created over ``--days`` days, each scored ``--scores-per-lead`` times (demo attributes;
segments from the score), outcomes for a third of them after their last score, then times
with the served demo model (logistic regression): the full report (``build_report``: what
``GET /v1/monitoring/report`` and ``leadscore monitor report`` run), the last day's movers,
and the drift alone. The goal in the issue: every view under 2 s at 1 M scores over 90 days
for 200 k leads on PostgreSQL.

Run: ``.venv/bin/python bench/monitoring.py [--leads 200000] [--scores-per-lead 5]
[--days 90] [--database postgresql|sqlite] [--keep] [--url URL] [--repeat N] [--parts]``.
Filling takes minutes: ``--keep`` leaves the filled store in place and prints its URL,
``--url`` times a store filled before (the sizes printed are then the options', not the
store's). ``--parts`` also times the report's parts one after another (in the report the
reads run side by side on PostgreSQL, so the whole takes less than their sum).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

os.environ.setdefault("LEADSCORE_TRACKING", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _serving import train_demo_model

CHUNK = 20_000


def _database(kind: str, work: Path) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{work / 'monitoring.db'}", None
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    base = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    with sa.create_engine(base).begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    return f"{base}?options=-csearch_path%3D{schema}", schema


def fill(url: str, leads: int, per_lead: int, days: int, seed: int = 0) -> None:
    """Leads, scores, latest scores and outcomes written in bulk (not through the scoring
    path: this measures the reads)."""
    from leadscore.demo import generate_leads
    from leadscore.store import Store
    from leadscore.store.tables import LatestScore, Lead, LeadChange, Outcome, Score

    Store(url).close()  # the schema
    rng = np.random.default_rng(seed)
    demo = generate_leads(2_000, seed=seed).table.drop(
        columns=["lead_id", "converted", "sales_status"]
    )
    rows = [{k: _plain(v) for k, v in r.items()} for r in demo.to_dict("records")]
    end = datetime.now(UTC)
    start = end - timedelta(days=days)
    engine = sa.create_engine(url)
    created = [start + timedelta(seconds=float(t)) for t in rng.uniform(0, days * 86_400, leads)]
    score_id = 0
    for first in range(0, leads, CHUNK):
        ids = range(first, min(first + CHUNK, leads))
        lead_rows, change_rows, score_rows, latest_rows, outcome_rows = [], [], [], [], []
        for i in ids:
            lead_id, made = (
                f"L{i:07d}",
                created[i].item() if hasattr(created[i], "item") else created[i],
            )
            attributes = rows[i % len(rows)]
            lead_rows.append(
                {"id": lead_id, "attributes": attributes, "created_at": made, "updated_at": made}
            )
            change_rows.append({"lead_id": lead_id, "attributes": attributes, "changed_at": made})
            span = (end - made).total_seconds()
            times = sorted(
                made + timedelta(seconds=float(t)) for t in rng.uniform(0, span, per_lead)
            )
            p = float(rng.beta(1, 6))
            for when in times:
                p = float(np.clip(p + rng.normal(0, 0.05), 0.001, 0.999))
                score_id += 1
                segment = "hot" if p > 0.3 else "warm" if p > 0.1 else "cold"
                score_rows.append(
                    {
                        "id": score_id,
                        "lead_id": lead_id,
                        "model_version": "1",
                        "score": p,
                        "score_100": round(100 * p),
                        "segment": segment,
                        "contact": p > 0.1,
                        "reasons": [],
                        "scored_at": when,
                    }
                )
            latest_rows.append(
                {
                    "lead_id": lead_id,
                    "score_id": score_id,
                    "score": p,
                    "segment": segment,
                    "scored_at": times[-1],
                }
            )
            if i % 3 == 0 and times[-1] < end - timedelta(hours=1):
                outcome_rows.append(
                    {
                        "lead_id": lead_id,
                        "converted": bool(rng.random() < p),
                        "occurred_at": times[-1] + timedelta(minutes=30),
                        "recorded_at": end,
                    }
                )
        with engine.begin() as conn:
            conn.execute(sa.insert(Lead), lead_rows)
            conn.execute(sa.insert(LeadChange), change_rows)
            conn.execute(sa.insert(Score), score_rows)
            conn.execute(sa.insert(LatestScore), latest_rows)
            if outcome_rows:
                conn.execute(sa.insert(Outcome), outcome_rows)
    if url.startswith("postgresql"):
        with engine.begin() as conn:
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('scores', 'id'), {score_id})"
            )
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()


def report_parts(store: Any, scorer: Any, business: Any) -> dict[str, Callable[[], object]]:
    """The report's parts (the last 30 days, by week) as separate calls, each what
    ``build_report`` runs for it (its private helpers included: this is a profile)."""
    from leadscore.monitor import report
    from leadscore.monitor.cohorts import lead_cohorts
    from leadscore.monitor.data import cohort_leads, judged_scores, period_scores
    from leadscore.monitor.estimate import expected_performance
    from leadscore.monitor.exploration import leads_performance
    from leadscore.monitor.movers import movers
    from leadscore.monitor.performance import bands, realised

    end = datetime.now(UTC)
    start = end - timedelta(days=report.DEFAULT_DAYS)
    starts = report._period_starts(start, end, "week")
    cuts = [s.to_pydatetime() for s in starts[1:]]
    reads = store.scores.reads
    judged, period = judged_scores(store, end), period_scores(store, start, end, cuts)
    leads, inputs = cohort_leads(store, end), report._period_inputs(store, scorer.model, start, end)
    last = report._last_scores(period.last, starts)
    latest = period.latest

    def rest() -> object:
        contact = latest["contact"].to_numpy(dtype=bool)
        return (
            bands(judged),
            report._over_time(last, judged, start, business, "week"),
            leads_performance(period.before, business),
            expected_performance(latest["score"], contact, business),
        )

    return {
        "judged outcomes (read)": lambda: judged_scores(store, end),
        "period scores (one pass)": lambda: period_scores(store, start, end, cuts),
        "score count": lambda: reads.score_count(start, end),
        "drift inputs (read)": lambda: report._period_inputs(store, scorer.model, start, end),
        "cohort leads (read)": lambda: cohort_leads(store, end),
        "cohort table": lambda: lead_cohorts(leads),
        "movers (30 days)": lambda: movers(store, scorer, start=start, end=end, limit=20),
        "drift (PSI)": lambda: report._drift(scorer, latest, lambda: inputs, []),
        "realised (intervals)": lambda: realised(judged, business),
        "bands, over time, estimates": rest,
    }


def _best(call: Callable[[], object], repeat: int) -> tuple[float, object]:
    """The best time of ``repeat`` calls (the first also warms the caches), and an answer."""
    best, answer = float("inf"), None
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        answer = call()
        best = min(best, time.perf_counter() - started)
    return best, answer


def _plain(value: object) -> object:
    if isinstance(value, float) and np.isnan(value):
        return None
    return value.isoformat() if hasattr(value, "isoformat") else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--scores-per-lead", type=int, default=5)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--keep", action="store_true", help="leave the filled store in place")
    parser.add_argument("--url", help="time this store, filled by an earlier --keep run")
    parser.add_argument("--repeat", type=int, default=1, help="time each view N times (best)")
    parser.add_argument("--parts", action="store_true", help="time the report's parts too")
    args = parser.parse_args()
    from leadscore.config import Business
    from leadscore.monitor.movers import movers
    from leadscore.monitor.report import build_report, period_drift
    from leadscore.scoring.realtime.scorer import FastScorer
    from leadscore.store import Store

    work = Path(tempfile.mkdtemp(prefix="leadscore-monitoring-"))
    model = train_demo_model("logreg_l2", work)
    scorer = FastScorer(model)
    url, schema = (args.url, None) if args.url else _database(args.database, work)
    try:
        started = time.perf_counter()
        if not args.url:
            fill(url, args.leads, args.scores_per_lead, args.days)
        filled = time.perf_counter() - started
        if args.keep:
            print(f"  filled: --url '{url}'", flush=True)
        store = Store(url)
        total = args.leads * args.scores_per_lead
        print(f"{args.database}: {args.leads:,} leads, {total:,} scores over {args.days} days "
              f"(filled in {filled:.0f} s)")  # fmt: skip
        views = {
            "report (30 days)": lambda: build_report(store, scorer, Business()),
            "movers (last day)": lambda: movers(store, scorer),
            "drift (30 days)": lambda: period_drift(store, scorer),
        }
        timings, answers = {}, {}
        for name, view in views.items():
            timings[name], answers[name] = _best(view, args.repeat)
        report, found = answers["report (30 days)"], answers["movers (last day)"]
        for name, seconds in timings.items():
            mark = "ok" if seconds < 2 else "over the 2 s goal"
            print(f"  {name:<20} {seconds:7.2f} s  {mark}")
        print(
            f"  ({report.scores:,} scores in the report's period, {len(found)} movers, "
            f"{len(json.dumps(report.to_dict())) / 1e6:.2f} MB of JSON)"
        )
        if args.parts:
            print("  the report's parts, one after another:")
            parts = report_parts(store, scorer, Business())
            for name, part in parts.items():
                print(f"    {name:<28} {_best(part, args.repeat)[0]:7.2f} s", flush=True)
        store.close()
    finally:
        if schema is not None and not args.keep:
            with sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test").begin() as c:
                c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
