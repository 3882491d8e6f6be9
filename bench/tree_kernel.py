"""Tree kernel benchmark: the LightGBM bag's trees alone, in leads per second.

Takes ``bench/batch_scoring.py``'s demo model (a LightGBM bag: five fold models × 400
trees) and demo leads (both cached in ``~/.cache/leadscore-bench``, made on the first
run), encodes ``--leads`` of them as the compiled batch scorer does, and times on every
core, best of ``--repeat``:

* leadscore's row kernel (each row walked through one tree after another: the service's,
  and batch scoring's before the batch kernel);
* leadscore's batch kernels: the bitvectors (:mod:`leadscore.scoring.treeshap.bitvectors`)
  and the walk (:mod:`leadscore.scoring.treeshap.walk`) at each ``--blocks``;
* LightGBM's own ``Booster.predict(raw_score=True)``;
* treelite, the trees compiled to C by tl2cgen (the ``bench`` extra; the first run
  compiles for a few minutes), where installed.

Each figure is the whole bag (2,000 trees a lead), with the wall seconds, the process's
CPU seconds (all threads) and leads per CPU second — on a loaded machine the wall time
shows the cores the others left, the CPU time the kernel's cost — and the load
(``uptime``). Then the work: splits a lead's walks visit (its
paths' lengths), the steps the walk kernel takes (each tree's deepest leaf) and the
splits the bitvector kernel decides (all of them), and those per second per core.

Run: ``.venv/bin/python bench/tree_kernel.py [--leads 20000] [--repeat 3] [--blocks 16,64]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from batch_scoring import generate, load, train
from leadscore.scoring.treeshap.bitvectors import ROWS, bitvector_rows, eligible
from leadscore.scoring.treeshap.pool import CORES, by_rows, shared_pool
from leadscore.scoring.treeshap.walk import walk_layout, walk_rows


def timed(run: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Best wall seconds of ``repeat`` runs, and the process's CPU seconds in that run."""
    best = (float("inf"), 0.0)
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def leaf_depths(booster: Any) -> list[np.ndarray]:
    """Per tree, each leaf's depth (the splits on its path), by leaf index."""
    out = []
    for tree in booster.dump_model()["tree_info"]:
        depths: dict[int, int] = {}
        stack = [(tree["tree_structure"], 0)]
        while stack:
            node, depth = stack.pop()
            if "leaf_index" in node or "split_index" not in node:
                depths[node.get("leaf_index", 0)] = depth
            else:
                stack += [(node["left_child"], depth + 1), (node["right_child"], depth + 1)]
        out.append(np.array([depths[i] for i in range(len(depths))]))
    return out


def treelite_run(model: Path, boosters: list[Any], parts: list[np.ndarray]) -> Callable[[], Any]:
    """treelite's predictors for the bag (compiled once, kept beside the model)."""
    import tl2cgen
    import treelite

    predictors = []
    for k, booster in enumerate(boosters):
        library = model.parent / f"treelite_{model.name}_{k}.so"
        if not library.is_file():
            tl2cgen.export_lib(
                treelite.frontend.from_lightgbm(booster), toolchain="gcc", libpath=str(library),
                params={"parallel_comp": 8}, nthread=CORES,
            )  # fmt: skip
        predictors.append(tl2cgen.Predictor(str(library), nthread=CORES))
    matrices = [tl2cgen.DMatrix(part) for part in parts]

    def run() -> None:
        for predictor, matrix in zip(predictors, matrices, strict=True):
            predictor.predict(matrix, pred_margin=True)

    return run


def on_cores(run: Callable[[np.ndarray], np.ndarray], parts: list[np.ndarray]) -> list[np.ndarray]:
    """``run`` on each booster's rows, each cut over the cores (as the batch scorer does)."""
    return [np.concatenate(by_rows(shared_pool(), run, part, CORES)) for part in parts]


def kernels(forests: list[Any], parts: list[np.ndarray], blocks: list[int]) -> dict[str, Any]:
    """leadscore's kernels over the bag, each booster's rows cut over the cores: the row
    kernel, the walk at each block size, the bitvectors where the trees fit."""
    out: dict[str, Any] = {}

    def over_bag(run: Callable[[Any, np.ndarray], np.ndarray]) -> Callable[[], list[np.ndarray]]:
        def bag() -> list[np.ndarray]:
            return [
                np.concatenate(by_rows(shared_pool(), lambda rows, f=f: run(f, rows), part, CORES))
                for f, part in zip(forests, parts, strict=True)
            ]

        return bag

    out["leadscore row kernel"] = over_bag(lambda f, rows: f.raw_one_by_one(rows))
    walks = [walk_layout(f.arrays, f.n_columns) for f in forests]
    for block in blocks:

        def walk(f: Any, rows: np.ndarray, block: int = block) -> np.ndarray:
            raw = np.full(len(rows), f.constant)
            walk_rows(rows, walks[forests.index(f)], block, raw)
            return raw

        out[f"leadscore walk kernel ({block} rows a block)"] = over_bag(walk)
    if all(eligible(f.arrays) for f in forests):

        def decide(f: Any, rows: np.ndarray) -> np.ndarray:
            raw = np.full(len(rows), f.constant)
            bitvector_rows(rows, f.batch, raw)
            return raw

        out[f"leadscore bitvector kernel ({ROWS} rows a block)"] = over_bag(decide)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--blocks", default="64", help="rows a block of the walk kernel")
    parser.add_argument("--no-treelite", action="store_true")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "leadscore-bench")
    args = parser.parse_args()
    import pyarrow.parquet as pq

    from leadscore.modeling.model import LeadModel
    from leadscore.scoring.columnar import CompiledBatch

    data, model = generate(args.cache, args.leads), train(args.cache, "lightgbm")
    lead_model = LeadModel.load(model)
    compiled = CompiledBatch(lead_model)
    rows = compiled.encoded_rows(pq.read_table(data))
    boosters = [m.named_steps["model"].booster_ for m in lead_model.pipeline_.members_]
    forests = [m.forest for m in compiled.lightgbm]
    width = rows.shape[1] // len(forests)
    parts = [
        np.ascontiguousarray(rows[:, k * width : (k + 1) * width]) for k in range(len(forests))
    ]
    n = len(rows)

    runs = kernels(forests, parts, [int(b) for b in args.blocks.split(",")])
    expected = runs["leadscore row kernel"]()
    for run in runs.values():  # the batch kernels: the row kernel's bits
        assert all(a.tobytes() == b.tobytes() for a, b in zip(run(), expected, strict=True))

    def lightgbm() -> list[np.ndarray]:
        return [
            booster.predict(part, raw_score=True, num_threads=CORES)
            for booster, part in zip(boosters, parts, strict=True)
        ]

    worst = max(float(np.abs(a - b).max()) for a, b in zip(expected, lightgbm(), strict=True))
    runs["LightGBM Booster.predict"] = lightgbm
    if not args.no_treelite:
        try:
            runs["treelite (tl2cgen, C)"] = treelite_run(model, boosters, parts)
        except ImportError:
            print("treelite: not installed (pip install -e '.[bench]')")
    print(
        f"{n:,} encoded demo leads, {len(boosters)} boosters, {CORES} cores; LightGBM's raw "
        f"scores off leadscore's by at most {worst:.1e}"
    )
    rates = {}
    for name, run in runs.items():
        run()  # warm: compiled, loaded, laid out
        wall, cpu = timed(run, args.repeat)
        rates[name] = n / cpu
        print(
            f"{name:46s} {n / wall:>9,.0f} leads/s  {wall:6.3f} s wall  {cpu:6.3f} s CPU  "
            f"{n / cpu:>9,.0f} leads a CPU second  (load {load()})",
            flush=True,
        )
    visits = steps = splits = 0.0
    sizes = []
    for booster, forest, part in zip(boosters, forests, parts, strict=True):
        depths = leaf_depths(booster)
        sizes += [len(d) for d in depths]
        leaves = booster.predict(part, pred_leaf=True)
        visits += float(np.mean(sum(d[leaves[:, t]] for t, d in enumerate(depths))))
        steps += float(walk_layout(forest.arrays, forest.n_columns).tree_depth.sum())
        splits += len(forest.arrays.feature)
    print(
        f"a lead: {visits:,.0f} splits on its paths (trees of {np.mean(sizes):.1f} leaves), "
        f"{steps:,.0f} steps of the walk kernel (each tree's deepest leaf), {splits:,.0f} "
        "splits decided by the bitvector kernel (all)"
    )
    for name, rate in rates.items():  # per CPU second: the load takes cores from the wall
        print(
            f"{name:46s} {rate * visits / 1e6:7.1f} M splits on the paths a CPU second"
            + (f", {rate * steps / 1e6:.1f} M steps" if "walk" in name else "")
            + (f", {rate * splits / 1e6:.1f} M splits decided" if "bitv" in name else "")
        )
    print(
        f"at 50,000 leads/s on {CORES} cores: {50_000 * visits / CORES / 1e6:,.0f} M splits "
        f"on the paths, {50_000 * steps / CORES / 1e6:,.0f} M steps or "
        f"{50_000 * splits / CORES / 1e6:,.0f} M splits decided a second a core; "
        f"{os.popen('grep -m1 MHz /proc/cpuinfo').read().strip()}"
    )


if __name__ == "__main__":
    main()
