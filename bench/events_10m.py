"""Events benchmark: build lead features from about 10 (or 50) million demo events.

Generates (once, cached) an event-level demo of ``--leads`` leads (~10 events each) as
Parquet — more than a million leads are generated a million at a time, so generating 50
million events needs no more memory than 10 — then, in a fresh process per run so its
memory is measured alone, runs the ``leadscore features`` job on it: load and normalise
the events, outcomes and cutoffs, fit the feature builder, one row per lead written to
Parquet. Prints seconds, events per second, CPU seconds and peak memory, with the
machine's load, and the seconds of each pass of the job (partition, scan, fit, rows).
Memory is sampled every 50 ms over the job's whole process tree (the job and its worker
processes) and summed: as resident set (RSS, which counts a page shared by several
processes — libraries, or what workers inherit from the server they are forked from — once
in each) and as proportional set (PSS, a shared page split among its sharers: what the
processes take of the machine together); "peak RSS of the job's process" is that of the
job's own process alone, sampled the same way (the figure this bench printed before the
job had workers; not ``ru_maxrss``, which a process started right after this one generated
the data inherits from it through fork and exec). CPU seconds are those of every process
of the tree.

``--path stream`` (the default) is what ``leadscore features`` does with inputs over one
bucket: the events streamed to disk in buckets of leads and built a bucket at a time;
``--path memory`` the whole input in memory (:func:`build_lead_table`). ``--workers``
(default: the cores) processes build the buckets; 1 builds all in one process. Several
``--leads`` values show whether memory stays flat as the input grows. Targets on a
2-core machine (issue 23): 10 M events in at most 20 s and 1.5 GB; memory flat (within
20 %) from 10 M to 50 M events.

Run: ``.venv/bin/python bench/events_10m.py [--leads 1000000 5000000] [--path stream|memory]
[--chunk-events N] [--workers N] [--cache DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
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


def measure(folder: Path, path: str, chunk_events: int, workers: int | None) -> dict[str, float]:
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
            columns, passes = result.table.shape[1], {}
        else:
            # no workers argument unless given: the bench also runs code from before it
            given = {} if workers is None else {"workers": workers}
            built = stream_lead_table(
                folder / "events.parquet", out, outcomes=folder / "outcomes.csv",
                chunk_events=chunk_events, **given,
            )  # fmt: skip
            events, leads, columns = built.load.counts["events"], built.rows, len(built.columns)
            passes = getattr(built, "seconds", {})  # code from before it had none
        seconds = time.perf_counter() - started
    return {
        "events": events,
        "leads": leads,
        "columns": columns,
        "seconds": seconds,
        "cpu_seconds": time.process_time(),
        "events_per_second": events / seconds,
        "peak_memory_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
        "passes": passes,
    }


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class TreeMemory:
    """Samples a process and all its descendants (Linux /proc): every ``every`` seconds
    their resident sets (``statm``, cheap) and CPU seconds; their proportional sets
    (``smaps_rollup``) only when the summed RSS is within a tenth of its peak so far, or
    every second. Reading ``smaps_rollup`` walks a process's page tables under its memory
    lock: done every 50 ms for seven processes, it slowed the measured job by a sixth.
    The process tree is listed again every half second (workers come and go by phase)."""

    PAGE = os.sysconf("SC_PAGE_SIZE")

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self.pid, self.every = pid, every
        self.peak_rss = self.peak_pss = self.peak_own = 0
        self.cpu: dict[int, float] = {}
        self.processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _tree(self) -> list[int]:
        parents: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents.setdefault(int(fields[1]), []).append(int(entry))
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(parents.get(pid, []))
        return tree

    def _run(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        tree, listed, measured = [self.pid], 0.0, 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now - listed >= 0.5:
                tree, listed = self._tree(), now
            rss = {}
            for pid in tree:
                try:
                    with open(f"/proc/{pid}/statm") as handle:
                        rss[pid] = int(handle.read().split()[1]) * self.PAGE
                    with open(f"/proc/{pid}/stat") as handle:
                        fields = handle.read().rsplit(")", 1)[1].split()
                    self.cpu[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
                except OSError:
                    continue
            total = sum(rss.values())
            self.peak_own = max(self.peak_own, rss.get(self.pid, 0))
            if total >= 0.9 * self.peak_rss or now - measured >= 1.0:
                self.peak_pss, measured = max(self.peak_pss, self._pss(rss)), now
            self.peak_rss = max(self.peak_rss, total)
            self.processes = max(self.processes, len(self.cpu))
            self._stop.wait(self.every)

    @staticmethod
    def _pss(processes: dict[int, int]) -> int:
        pss = 0
        for pid in processes:
            try:
                with open(f"/proc/{pid}/smaps_rollup") as handle:
                    pss += sum(int(line.split()[1]) * 1024 for line in handle
                               if line.startswith("Pss:"))  # fmt: skip
            except OSError:
                continue
        return pss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--path", choices=("stream", "memory"), default="stream")
    parser.add_argument("--chunk-events", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, help="worker processes (default: the cores)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "leadscore-bench")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.path, args.chunk_events, args.workers)))
        return
    peaks: list[tuple[float, float]] = []
    for leads in args.leads:
        folder = generate(args.cache, leads)
        before = load()
        command = [sys.executable, __file__, "--measure", str(folder), "--path", args.path,
                   "--chunk-events", str(args.chunk_events)]  # fmt: skip
        if args.workers is not None:
            command += ["--workers", str(args.workers)]
        job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        tree = TreeMemory(job.pid)
        stdout, stderr = job.communicate()
        tree.stop()
        if job.returncode:
            raise SystemExit(f"the measured job failed:\n{stderr}")
        f = json.loads(stdout.strip().splitlines()[-1])
        peaks.append((tree.peak_rss / 1e9, tree.peak_pss / 1e9))
        print(
            f"{args.path}: features from {f['events']:,.0f} events of {f['leads']:,.0f} leads "
            f"({f['columns']:.0f} columns): {f['seconds']:.1f} s ({sum(tree.cpu.values()):.1f} "
            f"s CPU in {tree.processes} processes), {f['events_per_second']:,.0f} events/s, "
            f"peak memory summed over the processes {tree.peak_rss / 1e9:.2f} GB RSS, "
            f"{tree.peak_pss / 1e9:.2f} GB PSS (peak RSS of the job's process "
            f"{tree.peak_own / 1e9:.2f} GB) (load average before/after: {before} / {load()})"
        )
        if f.get("passes"):
            print("  passes: " + ", ".join(f"{k} {v:.1f} s" for k, v in f["passes"].items()))
    if len(peaks) > 1:
        rss, pss = ([p[k] for p in peaks] for k in (0, 1))
        print(
            f"peak memory, largest over smallest input: {max(rss) / min(rss):.2f}× (RSS), "
            f"{max(pss) / min(pss):.2f}× (PSS)"
        )


if __name__ == "__main__":
    main()
