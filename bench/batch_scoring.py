"""Batch scoring benchmark: ``leadscore score MODEL leads.parquet --out scores.parquet``.

Generates (once, cached in ``~/.cache/leadscore-bench``) unlabelled demo leads as Parquet
(200,000, 1,000,000 and 10,000,000 by default) and trains two models on 20,000 labelled
demo leads: a LightGBM bag (five fold models of 400 trees) and a logistic regression. Then
runs the command end to end in a fresh process per measurement (start-up included: the
interpreter, the imports, loading the model) and prints leads per second, the seconds,
the CPU seconds and the peak memory of that process and the machine's load (``uptime``)
beside each figure.

``--engine pipeline`` scores the same files through the fitted scikit-learn pipeline on
the whole table in memory (:func:`leadscore.live.batch.score`, what ``leadscore score``
did before it streamed): the "before" of the comparison. ``--treelite`` also times the
LightGBM bag's trees alone against treelite's (compiled to C by tl2cgen; the ``bench``
extra installs them; the first run compiles for a few minutes). ``--draws`` times
exploration's draws alone, one ``hashlib`` call a lead against the compiled BLAKE2b
kernel, by the number of ids a call draws (where ``COMPILED_FROM`` comes from);
``--ranks`` times ranking's searches, numpy's against the compiled search through a grid,
by the number of scores (where ``INDEXED_FROM`` comes from).

Run: ``.venv/bin/python bench/batch_scoring.py [--sizes 200000,1000000,10000000]
[--models lightgbm,logreg_l2] [--engine stream|pipeline] [--batch-size N] [--treelite]
[--draws] [--ranks]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

#: leads generated (and written) at a time: the generator holds one chunk in memory
CHUNK = 500_000
TRAINING_LEADS = 20_000
MODELS = {"lightgbm": "LightGBM bag (5 × 400 trees)", "logreg_l2": "logistic regression"}


def load() -> str:
    """The machine's load averages, as ``uptime`` prints them."""
    return os.popen("uptime").read().strip().split("load average:")[-1].strip()


def generate(cache: Path, leads: int) -> Path:
    """``leads`` unlabelled demo leads as one Parquet file (ids unique across chunks)."""
    path = cache / f"leads_{leads}.parquet"
    if path.is_file():
        return path
    import pyarrow as pa
    import pyarrow.parquet as pq

    from leadscore.demo import generate_leads

    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    partial = path.with_name(f".{path.name}.partial")
    writer = None
    for first in range(0, leads, CHUNK):
        rows = min(CHUNK, leads - first)
        table = generate_leads(rows, seed=1000 + first // CHUNK, labelled=False).table
        table["lead_id"] = [f"L{first + i + 1:09d}" for i in range(rows)]
        batch = pa.Table.from_pandas(table, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(partial, batch.schema)
        writer.write_table(batch, row_group_size=100_000)
    assert writer is not None
    writer.close()
    partial.replace(path)
    print(f"generated {leads:,} demo leads in {time.perf_counter() - started:.1f} s")
    return path


def train(cache: Path, family: str) -> Path:
    """A model of ``family`` trained on demo leads, saved (with its compiled scorer)."""
    folder = cache / f"model_{family}"
    if (folder / "metadata.json").is_file():
        return folder
    from leadscore import LeadModel
    from leadscore.demo import generate_leads
    from leadscore.lifecycle.artifacts import save_model

    table = generate_leads(TRAINING_LEADS, seed=5).table
    inputs = table.drop(columns=["lead_id", "converted", "sales_status"])
    started = time.perf_counter()
    model = LeadModel(family, cv=5).fit(inputs, table["converted"], id_column="lead_id")
    save_model(model, folder)
    print(f"trained {MODELS.get(family, family)} in {time.perf_counter() - started:.1f} s")
    return folder


def run_measured(command: list[str]) -> tuple[float, float, float]:
    """Run ``command``; its wall seconds, peak memory (GB) and CPU seconds (user and
    system, every thread: what a loaded machine changes least) as the kernel counted
    them."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read() if process.stdout else b""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        code = os.waitstatus_to_exitcode(status)  # negative: killed by that signal
        sys.exit(f"{' '.join(command)} failed ({code}):\n{output.decode(errors='replace')}")
    return seconds, usage.ru_maxrss / 1e6, usage.ru_utime + usage.ru_stime


def command_for(
    engine: str, model: Path, data: Path, out: Path, batch_size: int | None
) -> list[str]:
    if engine == "stream":
        extra = ["--batch-size", str(batch_size)] if batch_size else []
        leadscore = str(Path(sys.executable).with_name("leadscore"))
        return [leadscore, "score", str(model), str(data), "--out", str(out), "--top", "3", *extra]
    code = (
        "import sys; from leadscore.live.batch import score; "
        "from leadscore.scoring.exploration import ExplorationPolicy; "
        "score(sys.argv[1], sys.argv[2], out=sys.argv[3], exploration=ExplorationPolicy())"
    )
    return [sys.executable, "-c", code, str(model), str(data), str(out)]


def treelite_rate(model: Path, data: Path, rows_wanted: int = 20_000) -> str:
    """The LightGBM bag's trees alone, over the same encoded rows: leadscore's kernel
    against treelite's trees compiled to C (tl2cgen, gcc), both on every core. lleaves
    (LLVM) does not run with the llvmlite that numba needs here."""
    try:
        import tl2cgen
        import treelite
    except ImportError:
        return "treelite: not installed (pip install -e '.[bench]')"
    import numpy as np
    import pyarrow.parquet as pq

    from leadscore.modeling.model import LeadModel
    from leadscore.scoring.columnar import CompiledBatch

    lead_model = LeadModel.load(model)
    compiled = CompiledBatch(lead_model)
    rows = compiled.encoded_rows(pq.read_table(data).slice(0, rows_wanted))
    members = lead_model.pipeline_.members_
    width = rows.shape[1] // len(members)
    theirs = 0.0
    for k, member in enumerate(members):
        library = model.parent / f"treelite_{model.name}_{k}.so"
        if not library.is_file():
            booster = member.named_steps["model"].booster_
            tl2cgen.export_lib(
                treelite.frontend.from_lightgbm(booster), toolchain="gcc", libpath=str(library),
                params={"parallel_comp": 8}, nthread=os.cpu_count() or 1,
            )  # fmt: skip
        predictor = tl2cgen.Predictor(str(library), nthread=os.cpu_count() or 1)
        part = tl2cgen.DMatrix(np.ascontiguousarray(rows[:, k * width : (k + 1) * width]))
        started = time.perf_counter()
        predictor.predict(part, pred_margin=True)
        theirs += time.perf_counter() - started
    started = time.perf_counter()
    compiled.trees_only(rows)
    ours = time.perf_counter() - started
    return (
        f"LightGBM bag's trees alone on {len(rows):,} encoded leads, every core: treelite "
        f"(tl2cgen, C) {len(rows) / theirs:,.0f} leads/s, leadscore's kernel "
        f"{len(rows) / ours:,.0f} leads/s ({ours / theirs:.2f}× treelite's time)"
    )


def draw_rates() -> list[str]:
    """Exploration's draws (``uniform_draws``) per size of the call: one ``hashlib`` call
    a lead against the compiled BLAKE2b kernel, for ``COMPILED_FROM``."""
    from leadscore.scoring import exploration

    lines = []
    exploration.COMPILED_FROM = 0
    exploration.uniform_draws(["warm-up"])  # numba loads (or compiles) the kernel
    for n in (1, 4, 16, 32, 64, 128, 256, 1024, 65_536, 1_000_000):
        ids = [f"L{i:09d}" for i in range(n)]
        repeat = max(1, 200_000 // n)
        seconds = {}
        for name, compiled_from in (("hashlib", n + 1), ("compiled", 0)):
            exploration.COMPILED_FROM = compiled_from
            started = time.process_time()
            for _ in range(repeat):
                exploration.uniform_draws(ids, seed=0)
            seconds[name] = (time.process_time() - started) / (repeat * n)
        lines.append(
            f"draws of {n:>9,} ids: hashlib {seconds['hashlib'] * 1e9:6.0f} ns/id, compiled "
            f"{seconds['compiled'] * 1e9:6.0f} ns/id (CPU time, all threads; load {load()})"
        )
    return lines


def rank_rates(batch: int = 65_536) -> list[str]:
    """Placing a batch's sorted scores among a file's (``Ranks``): numpy's searches
    against the compiled search through a grid over the scores, by the file's size
    (``INDEXED_FROM``)."""
    import numpy as np

    from leadscore.scoring import ranking

    lines = []
    rng = np.random.default_rng(0)
    ranking.bounds(np.zeros(2), np.zeros(1), ranking.Grid(np.zeros(2)))  # loads the kernel
    for n in (10_000, 100_000, 1_000_000, 10_000_000):
        values = np.sort(rng.beta(1, 12, n))  # skewed, as lead scores are
        needles = [np.sort(rng.choice(values, min(batch, n))) for _ in range(8)]
        batches = -(-n // len(needles[0]))  # as many leads as scores, as when ranking
        seconds = {}
        for name in ("searchsorted", "grid"):
            started = time.process_time()
            grid = ranking.Grid(values) if name == "grid" else None
            for k in range(batches):
                ranking.bounds(values, needles[k % 8], grid)
            seconds[name] = (time.process_time() - started) / (batches * len(needles[0]))
        lines.append(
            f"ranks among {n:>10,} scores: searchsorted {seconds['searchsorted'] * 1e9:6.0f} "
            f"ns/lead, grid {seconds['grid'] * 1e9:6.0f} ns/lead (grid built included; "
            f"load {load()})"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200000,1000000,10000000")
    parser.add_argument("--models", default="lightgbm,logreg_l2")
    parser.add_argument("--engine", choices=["stream", "pipeline"], default="stream")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure (best kept)")
    parser.add_argument("--treelite", action="store_true")
    parser.add_argument(
        "--draws", action="store_true", help="time exploration's draws only, then stop"
    )
    parser.add_argument(
        "--ranks", action="store_true", help="time ranking's searches only, then stop"
    )
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "leadscore-bench")
    args = parser.parse_args()
    if args.draws or args.ranks:
        print(
            "\n".join(
                [*(draw_rates() if args.draws else []), *(rank_rates() if args.ranks else [])]
            )
        )
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    families = args.models.split(",")
    files = {n: generate(args.cache, n) for n in sizes}
    models = {f: train(args.cache, f) for f in families}
    results = []
    for family in families:
        for n in sizes:
            out = args.cache / f"scores_{family}_{n}.parquet"
            runs = []
            for _ in range(args.repeat):
                before = load()
                command = command_for(args.engine, models[family], files[n], out, args.batch_size)
                seconds, peak, cpu = run_measured(command)
                runs.append((seconds, peak, cpu, before, load()))
            seconds, peak, cpu, before, after = min(runs)
            figure = {
                "model": family, "leads": n, "engine": args.engine, "seconds": round(seconds, 2),
                "leads_per_s": round(n / seconds), "peak_gb": round(peak, 3),
                "cpu_seconds": round(cpu, 2),
                "load_before": before, "load_after": after,
            }  # fmt: skip
            results.append(figure)
            print(
                f"{MODELS.get(family, family):32s} {n:>11,} leads  {args.engine:8s} "
                f"{seconds:7.1f} s  {n / seconds:>11,.0f} leads/s  CPU {cpu:6.1f} s  "
                f"peak {peak:5.2f} GB  "
                f"(load {before} → {after})",
                flush=True,
            )
    if args.treelite and "lightgbm" in models:
        print(treelite_rate(models["lightgbm"], files[min(sizes)]), f"(load {load()})")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
