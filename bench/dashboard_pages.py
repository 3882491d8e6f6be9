"""The dashboard on many leads: how long the Leads page and the Monitoring page take.

Builds a temporary store of ``--leads`` scored leads (three sources, reasons on each score)
and a served demo model, signs in through Streamlit's AppTest (the same app the tests
drive) and times: the first visit of the Leads page (caches cold), a filter on it (a
rerun, caches warm), and the Monitoring page (its report read once). Speed goals live here,
not in the tests (README: Standards).

Run: ``.venv/bin/python bench/dashboard_pages.py [--leads 10000]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("LEADSCORE_TRACKING", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _serving import train_demo_model

APP = Path(__file__).resolve().parents[1] / "src" / "leadscore" / "ui" / "app.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=10_000)
    args = parser.parse_args()
    from streamlit.testing.v1 import AppTest

    from leadscore.live import add_scores
    from leadscore.store import NewScore, Store

    work = Path(tempfile.mkdtemp(prefix="leadscore-dashboard-"))
    os.chdir(work)
    train_demo_model("logreg_l2", work)
    url = f"sqlite:///{work / 'store.db'}"
    os.environ.update(
        LEADSCORE_DATABASE_URL=url, LEADSCORE_SERVICE__MODEL=str(work / "model"),
        LEADSCORE_UI_DIR=str(work / "dashboard"),
        LEADSCORE_MLFLOW_URI=f"sqlite:///{work / 'mlflow.db'}",
    )  # fmt: skip
    store = Store(url)
    store.users.add("bench", "a long bench password", "admin")
    rng = np.random.default_rng(0)
    scores = rng.beta(1, 6, args.leads)
    ids = [f"L{i:06d}" for i in range(args.leads)]
    store.leads.upsert_many(
        {
            lead: {"source": ["google", "email", "direct"][i % 3], "country": "France",
                   "created_at": f"2026-04-{1 + i % 28:02d}T10:00:00"}
            for i, lead in enumerate(ids)
        }
    )  # fmt: skip
    reasons = [{"direction": "up", "text": "Source: email → +5", "field": "source"}]
    add_scores(
        store,
        [
            NewScore(lead, "1", float(p), round(p * 100), "hot" if p > 0.3 else "cold",
                     p > 0.1, reasons=reasons)
            for lead, p in zip(ids, scores, strict=True)
        ],
    )  # fmt: skip

    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.text_input(key="login_name").input("bench")
    at.text_input(key="login_password").input("a long bench password")
    started = time.perf_counter()
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    cold = time.perf_counter() - started
    started = time.perf_counter()
    at.multiselect(key="f_source").set_value(["email"])
    at.run()
    filtered = time.perf_counter() - started
    started = time.perf_counter()
    at.switch_page("views/monitoring.py")
    at.run()
    monitoring = time.perf_counter() - started
    problems = [e.value for e in at.exception]
    print(f"{args.leads:,} scored leads, SQLite; AppTest (no browser), one run each")
    print(f"  Leads page, first visit (caches cold)   {cold:6.2f} s")
    print(f"  Leads page, a filter (rerun)             {filtered:6.2f} s")
    print(f"  Monitoring page, first visit             {monitoring:6.2f} s")
    if problems:
        print(f"  exceptions: {problems}")


if __name__ == "__main__":
    main()
