"""Events benchmark: build lead features from about 10 (or 50) million demo events.

Generates (once, cached) an event-level demo of ``--leads`` leads (~10 events each) as
Parquet — more than a million leads are generated a million at a time, so generating 50
million events needs no more memory than 10 — then, in a fresh process per run so its
memory is measured alone, runs the ``leadscore features`` job on it: load and normalise
the events, outcomes and cutoffs, fit the feature builder, one row per lead written to
Parquet. Prints seconds, events per second and peak memory, with the machine's load.

``--path stream`` (the default) is what ``leadscore features`` does with inputs over one
bucket: the events streamed to disk in buckets of leads and built a bucket at a time;
``--path memory`` the whole input in memory (:func:`build_lead_table`). Several
``--leads`` values show whether memory stays flat as the input grows. Targets on a
2-core machine (issue 23): 10 M events in at most 20 s and 1.5 GB; memory flat (within
20 %) from 10 M to 50 M events.

Run: ``.venv/bin/python bench/events_10m.py [--leads 1000000 5000000] [--path stream|memory]
[--chunk-events N] [--cache DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GENERATE_CHUNK = 1_000_000  # leads generated (and held in memory) at a time


def generate(cache: Path, leads: int) -> Path:
    """The cached demo folder of ``leads`` leads (events.parquet, outcomes.csv)."""
    folder = cache / f"demo_events_{leads}"
    if (folder / "events.parquet").is_file():
        return folder
    started = time.perf_counter()
    if leads <= GENERATE_CHUNK:
        from leadscore.demo import write_demo_events

        write_demo_events(folder, leads=leads, new_leads=1000, seed=7, fmt="parquet")
    else:
        _generate_in_chunks(folder, leads)
    print(f"generated {leads:,} demo leads in {time.perf_counter() - started:.1f} s")
    return folder


def _generate_in_chunks(folder: Path, leads: int) -> None:
    """A million leads at a time, each from its own random stream and id range, into one
    Parquet file (a row group per chunk and slice) and one outcomes file."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from leadscore.demo.events import DEFAULT_DAYS, DEFAULT_START
    from leadscore.demo.files import write_csv
    from leadscore.demo.funnel import simulate

    folder.mkdir(parents=True, exist_ok=True)
    width = max(6, len(str(leads)))
    start = pd.Timestamp(DEFAULT_START)
    outcomes, writer = [], None
    tmp = folder / "events.parquet.partial"
    try:
        for first in range(0, leads, GENERATE_CHUNK):
            n = min(GENERATE_CHUNK, leads - first)
            events, labels, _, _ = simulate(
                n, 7, 10 + first // GENERATE_CHUNK, start, DEFAULT_DAYS, None, True, first + 1,
                width,
            )  # fmt: skip
            table = pa.Table.from_pandas(events, preserve_index=False)
            table = table.cast(
                pa.schema(
                    [
                        (f.name, pa.string() if pa.types.is_dictionary(f.type) else f.type)
                        for f in table.schema
                    ]
                )
            )
            if writer is None:
                writer = pq.ParquetWriter(
                    tmp, table.schema, compression="zstd",
                    use_dictionary=[c for c in table.column_names if c != "event_id"],
                )  # fmt: skip
            writer.write_table(table, row_group_size=GENERATE_CHUNK)
            outcomes.append(labels)
            del events, table
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(folder / "events.parquet")
    write_csv(pd.concat(outcomes, ignore_index=True), folder / "outcomes.csv")


def measure(folder: Path, path: str, chunk_events: int) -> dict[str, float]:
    """The features job on ``folder``; runs in its own process (see ``main``)."""
    from leadscore.features.stream import stream_lead_table
    from leadscore.features.table import build_lead_table

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "leads.parquet"
        started = time.perf_counter()
        if path == "memory":
            result = build_lead_table(folder / "events.parquet", outcomes=folder / "outcomes.csv")
            result.table.to_parquet(out, index=False)
            events, leads, columns = len(result.load.events), len(result.table), 0
            columns = result.table.shape[1]
        else:
            built = stream_lead_table(
                folder / "events.parquet", out, outcomes=folder / "outcomes.csv",
                chunk_events=chunk_events,
            )  # fmt: skip
            events, leads, columns = built.load.counts["events"], built.rows, len(built.columns)
        seconds = time.perf_counter() - started
    return {
        "events": events,
        "leads": leads,
        "columns": columns,
        "seconds": seconds,
        "cpu_seconds": time.process_time(),
        "events_per_second": events / seconds,
        "peak_memory_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
    }


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--path", choices=("stream", "memory"), default="stream")
    parser.add_argument("--chunk-events", type=int, default=1_000_000)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "leadscore-bench")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.path, args.chunk_events)))
        return
    peaks = []
    for leads in args.leads:
        folder = generate(args.cache, leads)
        before = load()
        done = subprocess.run(
            [sys.executable, __file__, "--measure", str(folder), "--path", args.path,
             "--chunk-events", str(args.chunk_events)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        f = json.loads(done.stdout.strip().splitlines()[-1])
        peaks.append(f["peak_memory_gb"])
        print(
            f"{args.path}: features from {f['events']:,.0f} events of {f['leads']:,.0f} leads "
            f"({f['columns']:.0f} columns): {f['seconds']:.1f} s ({f['cpu_seconds']:.1f} s CPU), "
            f"{f['events_per_second']:,.0f} events/s, peak memory {f['peak_memory_gb']:.2f} GB "
            f"(load average before/after: {before} / {load()})"
        )
    if len(peaks) > 1:
        print(f"peak memory, largest over smallest input: {max(peaks) / min(peaks):.2f}×")


if __name__ == "__main__":
    main()
