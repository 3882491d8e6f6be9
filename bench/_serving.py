"""The set-up the service benchmarks share: a demo lead model, saved twice behind a
symlink (so every reload really loads one), a SQLite store with an admin key, and the real
``leadscore serve`` (one uvicorn worker, its own process) serving them.

Used by ``bench/service_latency.py`` and ``bench/soak.py`` (siblings: ``bench/`` is on
``sys.path`` when either runs).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

os.environ.setdefault("LEADSCORE_TRACKING", "false")  # a benchmark, not an experiment


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"{url} not ready after {timeout:.0f} s")


def bodies(n: int, seed: int = 9, prefix: str | None = None) -> list[dict[str, Any]]:
    """Request bodies of ``n`` demo leads, as a CRM would send them (JSON-ready); with
    ``prefix``, lead ids ``{prefix}-000001`` … (the generator numbers from 1 whatever
    the seed, so two sets with different prefixes share no lead)."""
    from leadscore.demo import generate_leads

    table = generate_leads(n, seed=seed, labelled=False).table
    out = []
    for number, row in enumerate(table.to_dict("records"), start=1):
        lead_id = row.pop("lead_id") if prefix is None else f"{prefix}-{number:06d}"
        row.pop("lead_id", None)
        attributes = {
            k: (v.isoformat() + "Z" if isinstance(v, pd.Timestamp) else
                None if isinstance(v, float) and np.isnan(v) else
                v.item() if isinstance(v, np.generic) else v)
            for k, v in row.items()
        }  # fmt: skip
        out.append({"lead_id": lead_id, "attributes": attributes})
    return out


def new_and_repeat(
    leads: list[dict[str, Any]], count: int, repeats: float = 0.3, seed: int = 1
) -> list[dict[str, Any]]:
    """``count`` bodies as a CRM sends them: a share ``repeats`` of leads sent before
    (again, same attributes), the rest new ones taken from ``leads`` in order."""
    rng = np.random.default_rng(seed)
    out: list[dict[str, Any]] = []
    fresh = 0
    for _ in range(count):
        if out and (rng.random() < repeats or fresh == len(leads)):
            out.append(out[int(rng.integers(len(out)))])
        else:
            out.append(leads[fresh])
            fresh += 1
    return out


def train_demo_model(family: str, work: Path, rows: int = 5000, seed: int = 5) -> Any:
    """A :class:`~leadscore.modeling.model.LeadModel` of ``family`` fitted on demo leads,
    saved as ``work/model-a`` and (as if retrained) ``work/model-b``, with ``work/model``
    a symlink to the first: :func:`swap_model` points it at the other one."""
    from leadscore.demo import generate_leads
    from leadscore.lifecycle.artifacts import save_model
    from leadscore.modeling.model import LeadModel

    table = generate_leads(rows, seed=seed).table
    model = LeadModel(family).fit(
        table.drop(columns=["lead_id", "converted", "sales_status"]), table["converted"]
    )
    save_model(model, work / "model-a")
    model.metadata_["trained_at"] = "retrained"
    save_model(model, work / "model-b")
    (work / "model").symlink_to(work / "model-a")
    return model


def swap_model(work: Path) -> str:
    """Point ``work/model`` at the other saved model (atomically); its folder name."""
    other = "model-b" if (work / "model").resolve().name == "model-a" else "model-a"
    swap = work / "model.next"
    swap.symlink_to(work / other)
    swap.replace(work / "model")
    return other


def rss_mb(pid: int) -> float:
    """The resident memory of process ``pid`` (``VmRSS``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no VmRSS for {pid}")


@dataclass
class Served:
    """A running ``leadscore serve`` on the demo model."""

    work: Path
    process: subprocess.Popen[bytes]
    port: int
    key: str
    database_url: str
    model: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.work / "server.log"


def start_server(
    work: Path, database_url: str, reasons: int
) -> tuple[subprocess.Popen[bytes], int]:
    """``leadscore serve work/model`` (one worker: this very process serves) on a free
    port, its output in ``work/server.log``; returns once ``/readyz`` answers."""
    port = free_port()
    env = {
        **os.environ,
        "LEADSCORE_TRACKING": "false",
        "LEADSCORE_SERVICE__REASONS": str(reasons),
    }
    with (work / "server.log").open("ab") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "leadscore.cli", "serve", str(work / "model"),
             "--port", str(port), "--database", database_url, "--workers", "1"],
            env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", server)
    except BaseException:
        server.terminate()
        raise
    return server, port


@contextmanager
def demo_server(family: str, reasons: int, work: Path | None = None) -> Iterator[Served]:
    """Train the demo model of ``family``, create the store (SQLite, in ``work``: a new
    temporary folder by default) and an admin key, serve them; stop the server after."""
    from leadscore.store import Store

    work = work or Path(tempfile.mkdtemp(prefix="leadscore-bench-"))
    model = train_demo_model(family, work)
    url = f"sqlite:///{work / 'scores.db'}"
    key = Store(url).keys.create("bench", ["admin"])[0]
    server, port = start_server(work, url, reasons)
    served = Served(work, server, port, key, url, model, headers={"Authorization": f"Bearer {key}"})
    try:
        yield served
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
