"""Events benchmark: build lead features from about 10 million demo events.

Generates (once, cached) an event-level demo of 1,000,000 leads (~10 million events) as
Parquet, then, in a fresh process so its memory is measured alone, runs the whole
``leadscore features`` job: load and normalise the events, derive outcomes' cutoffs, fit
the feature builder and build one row per lead. Prints events per second and peak
memory. Targets on a 2-core machine: under 60 s, under 4 GB.

Run: ``.venv/bin/python bench/events_10m.py [--leads 1000000] [--cache DIR]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def generate(cache: Path, leads: int) -> Path:
    folder = cache / f"demo_events_{leads}"
    if not (folder / "events.parquet").is_file():
        from leadscore.demo import write_demo_events

        started = time.perf_counter()
        write_demo_events(folder, leads=leads, new_leads=1000, seed=7, fmt="parquet")
        print(f"generated {leads:,} demo leads in {time.perf_counter() - started:.1f} s")
    return folder


def measure(folder: Path) -> dict[str, float]:
    """The features job on ``folder``; runs in its own process (see ``main``)."""
    from leadscore.features.table import build_lead_table

    started = time.perf_counter()
    result = build_lead_table(folder / "events.parquet", outcomes=folder / "outcomes.csv")
    seconds = time.perf_counter() - started
    events = len(result.load.events)
    return {
        "events": events,
        "leads": len(result.table),
        "columns": result.table.shape[1],
        "seconds": seconds,
        "events_per_second": events / seconds,
        "peak_memory_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "leadscore-bench")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    folder = generate(args.cache, args.leads)
    done = subprocess.run(
        [sys.executable, __file__, "--measure", str(folder)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"features from {figures['events']:,.0f} events of {figures['leads']:,.0f} leads "
        f"({figures['columns']:.0f} columns): {figures['seconds']:.1f} s, "
        f"{figures['events_per_second']:,.0f} events/s, peak memory "
        f"{figures['peak_memory_gb']:.2f} GB (targets: < 60 s, < 4 GB)"
    )


if __name__ == "__main__":
    main()
