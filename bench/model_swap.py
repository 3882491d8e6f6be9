"""What a model swap costs the leads being scored meanwhile, in one process.

Trains a model, saves it twice (as if retrained) behind a symlink, and serves it from a
``ModelSlot`` while a thread scores one lead (with reasons) every 4 ms, as a service at
~200 requests/s would; the main thread swaps the model N times. Printed for each way of
loading (the saved compiled scorer, ``scorer.bin``; and loading ``model.joblib`` and
compiling at load, what a folder without one gets): the swap's wall and CPU time in the
process, and the latency of the leads scored during swaps next to the others.

In one process there is no network and no HTTP server, so the numbers move much less
from run to run than ``bench/service_latency.py --reloads``'s p99 on a shared machine.

Usage::

    .venv/bin/python bench/model_swap.py [--family lightgbm|logreg_l2] [--swaps 12]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from leadscore.config import Settings
from leadscore.demo import generate_leads
from leadscore.lifecycle.artifacts import save_model
from leadscore.live import ModelSlot
from leadscore.modeling.model import LeadModel


def prepare(model: LeadModel, work: Path, saved_scorer: bool) -> Path:
    """Two saved models (a and b) and a symlink to a; without the saved scorer the
    metadata forgets it, as in a folder saved by other code."""
    for name in ("a", "b"):
        model.metadata_["trained_at"] = name
        folder = save_model(model, work / name)
        if not saved_scorer:
            meta = json.loads((folder / "metadata.json").read_text())
            meta.pop("scorer", None)
            (folder / "metadata.json").write_text(json.dumps(meta))
    (work / "model").symlink_to(work / "a")
    return work / "model"


def measure(model: LeadModel, saved_scorer: bool, swaps: int) -> str:
    work = Path(tempfile.mkdtemp(prefix="leadscore-swap-"))
    served = prepare(model, work, saved_scorer)
    slot = ModelSlot.load(str(served), Settings(tracking=False))
    rows = model.background_.to_dict("records")
    scored: list[tuple[float, float]] = []
    stop = threading.Event()

    def score_leads() -> None:
        i = 0
        while not stop.is_set():
            started = time.perf_counter()
            slot.current.scorer.score(rows[i % len(rows)], 3)
            scored.append((started, time.perf_counter() - started))
            i += 1
            time.sleep(0.004)

    scorer = threading.Thread(target=score_leads)
    scorer.start()
    time.sleep(1.0)
    windows, cpu = [], []
    for k in range(swaps):
        link = work / "next"
        link.symlink_to(work / ("b" if k % 2 == 0 else "a"))
        link.replace(served)
        started, cpu_started = time.perf_counter(), time.process_time()
        slot.reload()
        cpu.append(time.process_time() - cpu_started)
        windows.append((started, time.perf_counter()))
        time.sleep(0.3)
    stop.set()
    scorer.join()

    def overlaps(t: float, margin: float) -> bool:
        return any(a - 0.005 <= t <= b + margin for a, b in windows)

    during = [d for t, d in scored if overlaps(t, 0.0)]
    others = [d for t, d in scored if not overlaps(t, 0.05)]
    wall = [b - a for a, b in windows]
    way = "saved scorer     " if saved_scorer else "compiled at load "
    return (
        f"  {way} swap {np.median(wall) * 1e3:6.1f} ms wall, {np.median(cpu) * 1e3:6.1f} ms CPU"
        f" | leads during swaps: {len(during):4d}, p50 {np.median(during) * 1e3:5.2f} ms, "
        f"max {max(during) * 1e3:6.1f} ms | other leads: p50 {np.median(others) * 1e3:5.2f} "
        f"ms, p99 {np.percentile(others, 99) * 1e3:5.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--family", default="lightgbm")
    parser.add_argument("--swaps", type=int, default=12)
    args = parser.parse_args()
    table = generate_leads(5000, seed=5).table
    model = LeadModel(args.family).fit(
        table.drop(columns=["lead_id", "converted", "sales_status"]), table["converted"]
    )
    print(f"{args.family}: {args.swaps} swaps (medians), a lead with 3 reasons every 4 ms")
    for saved_scorer in (True, False):
        print(measure(model, saved_scorer, args.swaps))


if __name__ == "__main__":
    main()
