"""Batch scoring benchmark: ``leadscore score MODEL leads.parquet --out scores.parquet``.

Generates (once, cached in ``~/.cache/leadscore-bench``) unlabelled demo leads as Parquet
(200,000, 1,000,000 and 10,000,000 by default) and trains two models on 20,000 labelled
demo leads: a LightGBM bag (five fold models of 400 trees) and a logistic regression. Then
runs the command end to end in a fresh process per measurement (start-up included: the
interpreter, the imports, loading the model) and prints leads per second, the seconds,
the peak memory of that process and the machine's load (``uptime``) beside each figure.

``--engine pipeline`` scores the same files through the fitted scikit-learn pipeline on
the whole table in memory (:func:`leadscore.live.batch.score`, what ``leadscore score``
did before it streamed): the "before" of the comparison. ``--treelite`` also times the
LightGBM bag's trees alone against treelite's (compiled to C by tl2cgen; the ``bench``
extra installs them; the first run compiles for a few minutes).

Run: ``.venv/bin/python bench/batch_scoring.py [--sizes 200000,1000000,10000000]
[--models lightgbm,logreg_l2] [--engine stream|pipeline] [--batch-size N] [--treelite]``.
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


def run_measured(command: list[str]) -> tuple[float, float]:
    """Run ``command``; its wall seconds and peak memory (GB) as the kernel counted them."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read() if process.stdout else b""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        code = os.waitstatus_to_exitcode(status)  # negative: killed by that signal
        sys.exit(f"{' '.join(command)} failed ({code}):\n{output.decode(errors='replace')}")
    return seconds, usage.ru_maxrss / 1e6


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200000,1000000,10000000")
    parser.add_argument("--models", default="lightgbm,logreg_l2")
    parser.add_argument("--engine", choices=["stream", "pipeline"], default="stream")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure (best kept)")
    parser.add_argument("--treelite", action="store_true")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "leadscore-bench")
    args = parser.parse_args()
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
                seconds, peak = run_measured(command)
                runs.append((seconds, peak, before, load()))
            seconds, peak, before, after = min(runs)
            figure = {
                "model": family, "leads": n, "engine": args.engine, "seconds": round(seconds, 2),
                "leads_per_s": round(n / seconds), "peak_gb": round(peak, 3),
                "load_before": before, "load_after": after,
            }  # fmt: skip
            results.append(figure)
            print(
                f"{MODELS.get(family, family):32s} {n:>11,} leads  {args.engine:8s} "
                f"{seconds:7.1f} s  {n / seconds:>11,.0f} leads/s  peak {peak:5.2f} GB  "
                f"(load {before} → {after})",
                flush=True,
            )
    if args.treelite and "lightgbm" in models:
        print(treelite_rate(models["lightgbm"], files[min(sizes)]), f"(load {load()})")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
