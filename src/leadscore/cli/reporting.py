"""What a model learned, for people: ``insights`` and the evaluation ``report``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from leadscore.cli.common import ConfigOpt, handle_errors, out
from leadscore.config import load_settings


@handle_errors
def insights(
    first: Annotated[
        str,
        typer.Argument(
            metavar="[MODEL] DATA", help="Model (default: the champion) and labelled leads."
        ),
    ],
    second: Annotated[str | None, typer.Argument(metavar="", show_default=False)] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for insights.html, insights.json and PNGs.")
    ] = Path("insights"),
    findings: Annotated[int, typer.Option("--findings", help="Findings to print.")] = 8,
    config: ConfigOpt = None,
) -> None:
    """What converts: drivers, conversion by field, the ideal customer, segment profiles."""
    from leadscore.explain.drivers import beeswarm_png, explain_sample, global_drivers
    from leadscore.explain.insights import load_for_insights
    from leadscore.lifecycle.registry import CHAMPION, load_lead_model
    from leadscore.reporting.insights import write_insights

    model_ref, data = (first, second) if second is not None else (CHAMPION, first)
    model = load_lead_model(model_ref, load_settings(config))
    model, table = load_for_insights(model, data)
    with out.status("explaining a sample of leads …"):
        rows, explained = explain_sample(model, table.features)
        drivers = global_drivers(explained)
        drivers = drivers_with_permutation(drivers, model)
        beeswarm = beeswarm_png(rows, explained)
    caption = (
        "Every dot is a lead: how far the field moved its score (right raises it), "
        "coloured from low (blue) to high (red) values; categories in grey."
    )
    with out.status("writing insights …"):
        paths = write_insights(
            model, table, out_dir, drivers=drivers,
            extra_figures={"beeswarm": (caption, beeswarm)},
        )  # fmt: skip
    shown = Table(title="What moves the score (points on the 0–100 scale)", header_style="bold")
    for name in ("field", "average effect", "mean push", "held-out AUC drop"):
        shown.add_column(name, justify="left" if name == "field" else "right")
    for row in drivers.head(12).itertuples():
        auc_drop = row.permutation_auc_drop
        shown.add_row(
            row.field, f"{row.importance:.1f}", f"{row.mean_points:+.1f}",
            "" if pd.isna(auc_drop) else f"{auc_drop:.4f}",
        )  # fmt: skip
    out.print(shown)
    import json

    content = json.loads(paths["json"].read_text(encoding="utf-8"))
    for line in content["findings"][:findings]:
        out.print(f"• {line}", highlight=False)
    out.print(f"wrote {paths['html']}, {paths['json']} and {len(paths) - 2} charts")


def drivers_with_permutation(drivers: pd.DataFrame, model: Any) -> pd.DataFrame:
    """Add the training run's held-out permutation importance (AUC drop) as a cross-check.

    Parameters
    ----------
    drivers:
        The global drivers (one row per ``field``).
    model:
        The model; its ``importance_`` (feature, importance) fills the new
        ``permutation_auc_drop`` column (NaN where it has none).

    Example
    -------
    >>> from types import SimpleNamespace
    >>> drivers = pd.DataFrame({"field": ["visits", "source"]})
    >>> measured = pd.DataFrame({"feature": ["visits"], "importance": [0.04]})
    >>> drivers_with_permutation(drivers, SimpleNamespace(importance_=measured))
        field  permutation_auc_drop
    0  visits                  0.04
    1  source                   NaN
    """
    importance = getattr(model, "importance_", None)
    if importance is None or len(importance) == 0:
        return drivers.assign(permutation_auc_drop=np.nan)
    drop = importance.set_index("feature")["importance"]
    return drivers.assign(permutation_auc_drop=drivers["field"].map(drop).astype(float))


@handle_errors
def report(
    run: Annotated[
        str,
        typer.Argument(help="A model folder, or champion / challenger / a registry version."),
    ] = "champion",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for report.html and PNGs.")] = Path(
        "report"
    ),
    config: ConfigOpt = None,
) -> None:
    """Write the evaluation report (HTML + PNG plots) of a trained model."""
    import tempfile

    from leadscore.lifecycle.registry import load_lead_model
    from leadscore.reporting.report import write_report

    if Path(run).is_dir():
        path = write_report(run, out_dir)
    else:
        model = load_lead_model(run, load_settings(config))
        with tempfile.TemporaryDirectory() as tmp:
            path = write_report(model.save(Path(tmp) / "model"), out_dir)
    out.print(f"wrote {path}")
