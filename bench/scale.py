"""Scale benchmark: lead features and scores on one machine and on Spark (issue 23).

Generates (once, cached) ``--leads`` demo leads' raw events as a data lake holds them
(Parquet files, times in microseconds), then runs each job as a user does, in a fresh
process whose whole process tree (for Spark: the driver JVM and its Python workers) is
sampled for memory:

* ``leadscore features EVENTS --labels OUTCOMES`` on one machine, and the same job on
  Spark ``local[1]`` and ``local[2]`` through its Python API (what ``--engine spark`` runs),
  timing the driver's part (outcomes, fit sample, fit) apart from the partitions';
* ``leadscore score MODEL TABLE`` on the same three, with a model trained on a sample of
  the features (``--family``);
* optionally (``--train N …``) ``leadscore train`` on N demo lead rows: how large a
  table one machine trains on.

Prints seconds, events (or leads) per second and peak memory with the machine's load
beside every figure, the Spark / single-machine ratio, and the scaling from ``local[1]``
to ``local[2]`` projected to N executor cores: by Amdahl's law from the two totals, and
(features) as the driver's part plus the partitions' part divided by N.

Run: ``.venv/bin/python bench/scale.py [--leads 1000000] [--masters local[1] local[2]]
[--family logreg_l2] [--train 200000 500000] [--cache DIR]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
PAGE = os.sysconf("SC_PAGE_SIZE")


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields[21]) * PAGE
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def measure(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a command; (seconds, peak MB of its process tree, its output)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        peak = 0
        while process.poll() is None:
            peak = max(peak, _tree_rss(process.pid))
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        log.seek(0)
        output = log.read()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{output[-3000:]}")
    return seconds, peak / 1e6, output


def lake(cache: Path, leads: int) -> tuple[Path, Path, int]:
    """The cached demo events as Parquet files of 1 M rows (times in microseconds, as
    Spark reads them), the outcomes, and the number of events."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from leadscore.demo import write_demo_events

    folder = cache / f"scale_{leads}"
    events = folder / "events"
    if not (folder / "outcomes.csv").is_file():
        started = time.perf_counter()
        paths = write_demo_events(folder / "demo", leads=leads, new_leads=10, seed=11,
                                  fmt="parquet", messy=False)  # fmt: skip
        table = pq.read_table(paths["events"])
        kind = table.schema.field("timestamp").type
        micro = table["timestamp"].cast(pa.timestamp("us", tz=kind.tz))
        table = table.set_column(table.schema.get_field_index("timestamp"), "timestamp", micro)
        events.mkdir(parents=True, exist_ok=True)
        for i, start in enumerate(range(0, table.num_rows, 1_000_000)):
            pq.write_table(table.slice(start, 1_000_000), events / f"part-{i:04d}.parquet")
        paths["outcomes"].replace(folder / "outcomes.csv")
        print(f"generated {leads:,} leads, {table.num_rows:,} events in "
              f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in events.glob("*.parquet"))
    return events, folder / "outcomes.csv", rows


def model_for(table: Path, folder: Path, family: str) -> Path:
    """A model trained (in this process, not measured) on 20,000 leads of ``table``."""
    import pandas as pd

    from leadscore import LeadModel
    from leadscore.lifecycle.artifacts import save_model

    target = folder / f"model_{family}_{table.parent.name}_{table.stem}"
    if (target / "metadata.json").is_file():
        return target
    frame = pd.read_parquet(table)
    frame = frame.sample(min(len(frame), 20_000), random_state=0)
    model = LeadModel(family, cv=3).fit(
        frame.drop(columns=["converted"]), frame["converted"], id_column="lead_id"
    )
    return save_model(model, target)


def row(what: str, engine: str, seconds: float, units: int, unit: str, peak: float) -> float:
    print(f"{what:9s} {engine:15s} {seconds:7.1f} s  {units / seconds:>10,.0f} {unit}/s  "
          f"peak {peak:7,.0f} MB  ({load()})", flush=True)  # fmt: skip
    return seconds


def projection(times: dict[str, float], what: str) -> None:
    """Amdahl's law from local[1] → local[2]: the share that sped up is parallel."""
    one, two = times.get("local[1]"), times.get("local[2]")
    if not one or not two:
        return
    speedup = one / two
    parallel = min(1.0, max(0.0, 2 * (1 - 1 / speedup)))
    cores = ", ".join(f"{n} cores {one * ((1 - parallel) + parallel / n):.0f} s"
                      for n in (8, 32, 128))  # fmt: skip
    print(f"{what}: local[1] → local[2] ×{speedup:.2f}; parallel share {parallel:.0%}; "
          f"projected {cores}")  # fmt: skip


#: the features job through the Python API, timing the driver's part (reading the
#: outcomes, the fit sample, the fit, the latest event) apart from the cluster's (the
#: partitions' features, written)
SPARK_FEATURES = """
import sys, time
from leadscore.config import load_settings
from leadscore.spark.features import spark_lead_table, write_lead_table
from leadscore.spark.session import spark_session
events, outcomes, out, master = sys.argv[1:5]
spark = spark_session(load_settings().spark, master=master,
                      conf={"spark.driver.memory": "4g"})
started = time.perf_counter()
planned = spark_lead_table(spark, events, outcomes=outcomes)
planning = time.perf_counter() - started
write_lead_table(spark, planned, out)
print(f"driver {planning:.1f} s; partitions {time.perf_counter() - started - planning:.1f} s")
"""


def _phases(output: str) -> tuple[float, float]:
    line = next(x for x in output.splitlines() if x.startswith("driver "))
    driver, partitions = (float(part.split()[1]) for part in line.split(";"))
    return driver, partitions


def _name(master: str) -> str:
    return "".join(c for c in master if c.isalnum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000, help="0: no features, scores")
    parser.add_argument("--masters", nargs="*", default=["local[1]", "local[2]"])
    parser.add_argument("--family", default="logreg_l2")
    parser.add_argument("--only", choices=["features", "scores"], default=None)
    parser.add_argument("--train", type=int, nargs="*", default=[])
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "leadscore-bench"
    )
    options = parser.parse_args()
    cache = options.cache
    cache.mkdir(parents=True, exist_ok=True)
    leadscore = str(BIN / "leadscore")
    env = {"LEADSCORE_TRACKING": "false", "COLUMNS": "200", "PYSPARK_PYTHON": sys.executable}
    spark_conf = ["--spark-conf", "spark.driver.memory=2g"]

    work = Path(tempfile.mkdtemp(prefix="scale-", dir=cache))
    if options.leads:
        jobs(options, cache, work, leadscore, env, spark_conf)
    for rows in options.train:
        table = cache / f"leads_{rows}.csv"
        if not table.is_file():
            measure([leadscore, "demo-data", "--out", str(cache / f"demo_{rows}"), "--rows",
                     str(rows), "--new-rows", "10"], env)  # fmt: skip
            (cache / f"demo_{rows}" / "leads.csv").replace(table)
        seconds, peak, _ = measure(
            [leadscore, "train", str(table), "--out", str(work / f"model_{rows}")], env
        )
        row("train", "single", seconds, rows, "leads", peak)


def jobs(
    options: argparse.Namespace,
    cache: Path,
    work: Path,
    leadscore: str,
    env: dict[str, str],
    spark_conf: list[str],
) -> None:
    """Features and scores, on one machine and on each Spark master."""
    events, outcomes, n_events = lake(cache, options.leads)
    print(f"{options.leads:,} leads, {n_events:,} events; {os.cpu_count()} cores ({load()})")
    single_table = work / "single.parquet"
    base = [leadscore, "features", str(events), "--labels", str(outcomes)]
    seconds, peak, _ = measure([*base, "--out", str(single_table)], env)
    if options.only != "scores":
        print("features (events → lead table, training mode with outcomes):")
        features(options, base, work, env, spark_conf, n_events, seconds, peak)
    if options.only != "features":
        scores(options, cache, work, leadscore, env, spark_conf, single_table)


def features(
    options: argparse.Namespace,
    base: list[str],
    work: Path,
    env: dict[str, str],
    spark_conf: list[str],
    n_events: int,
    seconds: float,
    peak: float,
) -> None:
    """The features job on each Spark master beside the single machine's figures."""
    single = row("features", "single", seconds, n_events, "events", peak)
    timed: dict[str, float] = {}
    phases: dict[str, tuple[float, float]] = {}
    for master in options.masters:
        out = work / f"spark_{_name(master)}.parquet"
        events, outcomes = base[2], base[4]
        args = [sys.executable, "-c", SPARK_FEATURES, events, outcomes, str(out), master]
        seconds, peak, output = measure(args, env)
        timed[master] = row("features", f"spark {master}", seconds, n_events, "events", peak)
        phases[master] = _phases(output)
        print(f"          driver {phases[master][0]:.1f} s, partitions {phases[master][1]:.1f} s; "
              f"spark {master} / single: {timed[master] / single:.2f}× the time")  # fmt: skip
    projection(timed, "features")
    if "local[1]" in phases:
        driver, partitions = phases["local[1]"]
        cores = ", ".join(f"{n} cores {driver + partitions / n:.0f} s" for n in (8, 32, 128))
        print(f"features: the driver's part stays, the partitions' divide: projected {cores} "
              f"(+ start-up) for this input")  # fmt: skip


def scores(
    options: argparse.Namespace,
    cache: Path,
    work: Path,
    leadscore: str,
    env: dict[str, str],
    spark_conf: list[str],
    single_table: Path,
) -> None:
    """The scoring job on one machine and on each Spark master."""
    print(f"scores (lead table → ranked scores, {options.family}):")
    # the same leads in microseconds for Spark (pandas writes nanoseconds, which it refuses)
    import pyarrow.parquet as pq

    spark_table = work / "single_us.parquet"
    pq.write_table(pq.read_table(single_table), spark_table, coerce_timestamps="us")
    model = model_for(single_table, cache, options.family)
    seconds, peak, _ = measure(
        [leadscore, "score", str(model), str(single_table), "--out", str(work / "s.parquet")], env
    )
    single = row("score", "single", seconds, options.leads, "leads", peak)
    timed = {}
    for master in options.masters:
        out = work / f"scores_{_name(master)}.parquet"
        args = [leadscore, "score", str(model), str(spark_table), "--out", str(out),
                "--engine", "spark", "--spark-master", master, *spark_conf]  # fmt: skip
        seconds, peak, _ = measure(args, env)
        timed[master] = row("score", f"spark {master}", seconds, options.leads, "leads", peak)
        print(f"          spark {master} / single: {timed[master] / single:.2f}× the time")
    projection(timed, "scores")


if __name__ == "__main__":
    main()
