"""Building models: ``audit``, ``compare`` and ``train``.

``compare`` and ``train`` take the same options (:data:`~leadscore.cli.options.MODELLING`),
declared once in :mod:`leadscore.cli.options`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from leadscore.cli.common import err, handle_errors, out
from leadscore.cli.options import (
    CHECKS,
    MODELLING,
    NO_FLAGS,
    ROLES,
    DataArg,
    Flags,
    QuietOpt,
    build_settings,
    shared_options,
)
from leadscore.data.masking import mask_source


@handle_errors
@shared_options(*ROLES, *CHECKS)
def audit(
    data: DataArg,
    flags: Flags = NO_FLAGS,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON.")
    ] = None,
    html_out: Annotated[
        Path | None, typer.Option("--html", help="Also write the report as HTML.")
    ] = None,
) -> None:
    """Check data quality and flag leakage suspects (columns filled in after the outcome)."""
    from leadscore.modeling.audit import audit as run_audit

    settings = build_settings(flags)
    with err.status("auditing"):
        report = run_audit(data, settings=settings)
    report.source = mask_source(report.source)  # printed and written into the reports
    report.render(out)
    if json_out:
        out.print(f"wrote {report.to_json(json_out)}")
    if html_out:
        out.print(f"wrote {report.to_html(html_out)}")


@handle_errors
@shared_options(*MODELLING)
def compare(
    data: DataArg,
    flags: Flags = NO_FLAGS,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the leaderboard (.csv or .json).")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Compare model families by cross-validation and print the leaderboard."""
    from leadscore.lifecycle.compare import compare as run_compare

    settings = build_settings(flags)
    board = run_compare(
        data, settings=settings, models=flags.model_list, sort=flags.sort, console=err,
        show_progress=not quiet, budget=flags.budget or 0,
    )  # fmt: skip
    board.render(out)
    out.print(f"[dim]{len(board.table)} models compared in {board.seconds:.1f} s[/]")
    if board.run_id:
        out.print(f"MLflow run {board.run_id}")
    if out_file:
        out.print(f"wrote {board.write(out_file)}")


@handle_errors
@shared_options(*MODELLING, "capacity")
def train(
    data: DataArg,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to save the model in.")],
    flags: Flags = NO_FLAGS,
    model: Annotated[
        str | None, typer.Option("--model", help="Train this model instead of the best.")
    ] = None,
    leaderboard: Annotated[
        Path | None, typer.Option("--leaderboard", help="Write the leaderboard (.csv or .json).")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Compare models, train the best on all data, calibrate it and save it."""
    from leadscore.lifecycle.train import train as run_train

    settings = build_settings(flags)
    lead_model = run_train(
        data, settings=settings, model=model, models=flags.model_list, sort=flags.sort,
        out=out_dir, leaderboard_out=leaderboard, console=out, show_progress=not quiet,
        budget=flags.budget,
    )  # fmt: skip
    meta = lead_model.metadata_
    m = lead_model.cv_metrics_
    choice = lead_model.threshold_choice_
    cut = lead_model.cutoffs_
    out.print(
        f"Trained [bold]{meta['model_label']}[/] on {meta['rows']:,} leads "
        f"({meta['positive_rate']:.1%} converted) — {meta['selection']}"
    )
    if len(meta.get("leaderboard") or []) <= 1:  # otherwise the leaderboard said it
        out.print(f"Validation: {meta.get('validation', 'shuffled, stratified')}")
    out.print(
        f"Cross-validated: AUC {m['auc']:.3f}, PR-AUC {m['pr_auc']:.3f}, "
        f"calibration error {m['ece']:.3f}, lift in top 10% {m['lift_top10']:.2f}×"
    )
    out.print(
        f"Contact threshold {cut.contact:.3f} (score {cut.contact * 100:.0f}): profit "
        f"{choice.profit:,.0f} on {choice.n_leads:,} leads vs contact everyone "
        f"{choice.contact_all_profit:,.0f}, contact no one {choice.contact_none_profit:,.0f}, "
        f"threshold 0.5 {choice.default_threshold_profit:,.0f}"
    )
    if len(meta.get("leaderboard") or []) <= 1:  # the leaderboard says it under its table
        out.print(f"[dim]Profit counts {escape(settings.business.basis)}[/]")
    # one decimal where whole points would print two different cutoffs alike
    digits = 0 if round(cut.hot * 100) != round(cut.warm * 100) or cut.hot == cut.warm else 1
    shares = meta.get("segment_shares") or {}
    out.print(
        f"Segments: hot ≥ {cut.hot * 100:.{digits}f}, warm ≥ {cut.warm * 100:.{digits}f}, "
        "cold below"
        + (
            " (training leads: " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items()) + ")"
            if shares
            else ""
        )
    )
    if meta.get("segment_note"):
        out.print(f"[yellow]note:[/] {meta['segment_note']}")
    described = meta.get("dictionary")
    if described:
        count, inputs = len(described["fields"]), len(lead_model.schema_.names)
        out.print(
            f"Data dictionary {described['source']}: describes {count} of the model's {inputs} "
            "inputs (kept with the model: reasons and findings use its words)"
            if count
            else f"[yellow]note:[/] the data dictionary {described['source']} names none of "
            "the model's inputs: reasons are worded from the column names"
        )
    out.print(f"Saved to {out_dir}")
    version = getattr(lead_model, "registered_version_", None)
    if version is not None:
        from leadscore.lifecycle.registry import CHAMPION, Registry

        registry = Registry(settings)
        role = "champion" if registry.resolve(CHAMPION) == version else "challenger"
        out.print(
            f"MLflow run {lead_model.mlflow_run_id_}; registered as version {version} of "
            f"{registry.name} ({role}) in {mask_source(registry.uri)}"
        )
