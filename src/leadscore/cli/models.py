"""The model registry: ``models list|show|sign|promote|rollback`` and ``mlflow-ui``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leadscore.cli.common import ConfigOpt, handle_errors, out
from leadscore.config import load_settings

models_app = typer.Typer(help="The model registry: versions, champion and challenger.")


@models_app.command("list")
@handle_errors
def models_list(config: ConfigOpt = None) -> None:
    """All registered versions, newest first, with their aliases and metrics."""
    from leadscore.lifecycle.registry import Registry

    registry = Registry(load_settings(config))
    table = Table(title=f"{registry.name} @ {registry.uri}", header_style="bold")
    for name in ("version", "aliases", "model", "CV AUC", "CV profit", "rows", "created"):
        table.add_column(name, justify="right" if name in ("version", "rows") else "left")
    for v in registry.versions():
        table.add_row(
            str(v.version), ", ".join(sorted(v.aliases)), v.model,
            "" if v.auc is None else f"{v.auc:.4f}",
            "" if v.profit is None else f"{v.profit:,.0f}",
            "" if v.rows is None else f"{v.rows:,}", f"{v.created:%Y-%m-%d %H:%M}",
        )  # fmt: skip
    out.print(table)


@models_app.command("show")
@handle_errors
def models_show(
    version: Annotated[str, typer.Argument(help="Version number, champion or challenger.")],
    config: ConfigOpt = None,
) -> None:
    """Everything recorded about one version, and the change report of its promotion."""
    import json

    from leadscore.lifecycle.change_report import read_change_report
    from leadscore.lifecycle.registry import Registry

    registry = Registry(load_settings(config))
    number = registry.resolve(version)
    out.print_json(json.dumps(registry.describe(number), default=str))
    report = read_change_report(registry, number)
    if report is not None:
        out.print(report.text(), markup=False, highlight=False)


@models_app.command("sign")
@handle_errors
def models_sign(
    folder: Annotated[Path, typer.Argument(help="A saved model folder.")],
) -> None:
    """Sign a model folder with this machine's signing key, after checking its files
    against their checksums (a folder from an earlier version, or another machine's)."""
    from leadscore.modeling.folder import sign_folder

    key = sign_folder(folder)
    out.print(f"signed {folder} (signing key {key})")


@models_app.command("promote")
@handle_errors
def models_promote(
    version: Annotated[str, typer.Argument(help="Version number (or challenger).")],
    config: ConfigOpt = None,
) -> None:
    """Make a version the champion (every scoring entry point then loads it)."""
    from leadscore.lifecycle.registry import Registry

    registry = Registry(load_settings(config))
    number = registry.resolve(version)
    registry.promote(number)
    out.print(f"version {number} of {registry.name} is now the champion")


@models_app.command("rollback")
@handle_errors
def models_rollback(config: ConfigOpt = None) -> None:
    """Give the champion alias back to the previous champion."""
    from leadscore.lifecycle.registry import Registry

    registry = Registry(load_settings(config))
    out.print(f"champion rolled back to version {registry.rollback()} of {registry.name}")


@handle_errors
def mlflow_ui(
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 5000,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    config: ConfigOpt = None,
) -> None:
    """Browse runs and models in the MLflow UI (the project's tracking store)."""
    import subprocess

    from leadscore.data.masking import mask_source
    from leadscore.lifecycle.registry import tracking_uri

    uri = tracking_uri(load_settings(config))
    out.print(f"MLflow UI for {mask_source(uri)} at http://{host}:{port} (Ctrl-C stops)")
    mlflow = Path(sys.executable).with_name("mlflow")
    subprocess.run(
        [str(mlflow), "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port)],
        check=False,
    )
