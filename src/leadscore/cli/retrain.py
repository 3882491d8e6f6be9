"""``retrain``: a challenger on a sliding window, promoted only if it beats the champion."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from leadscore.cli.common import err, handle_errors, out
from leadscore.cli.options import (
    NO_FLAGS,
    ROLES,
    STORE,
    DataArg,
    Flags,
    QuietOpt,
    build_settings,
    shared_options,
)

if TYPE_CHECKING:
    from leadscore.store import Store


@handle_errors
@shared_options(*ROLES, *STORE)
def retrain(
    data: DataArg,
    window: Annotated[
        str, typer.Option("--window", help="Train on this recent span, e.g. 90d.")
    ] = "90d",
    holdout: Annotated[
        str | None,
        typer.Option("--holdout", help="Judge on this most recent span (default: window / 5)."),
    ] = None,
    metric: Annotated[
        str, typer.Option("--metric", help="What the challenger must improve: profit, auc, …")
    ] = "profit",
    margin: Annotated[
        float, typer.Option("--margin", help="Relative improvement needed (0.01 = 1 %).")
    ] = 0.01,
    every: Annotated[
        str | None,
        typer.Option("--every", help="Keep running and retrain every span (e.g. 7d)."),
    ] = None,
    flags: Flags = NO_FLAGS,
    quiet: QuietOpt = False,
) -> None:
    """Train a challenger on a sliding window; promote it only if it beats the champion."""
    from leadscore.lifecycle.retrain import retrain as run_retrain
    from leadscore.lifecycle.retrain import retrain_every

    build_settings(flags)  # a bad setting fails now, not at the first scheduled run

    def once() -> None:
        # resolved afresh for every run: values saved from the dashboard meanwhile apply
        settings = build_settings(flags)
        with _open_store(settings.database_url) as store:
            decision = run_retrain(
                data, window=window, holdout=holdout, metric=metric, margin=margin,
                settings=settings, console=err, show_progress=not quiet, store=store,
            )  # fmt: skip
        verdict = "[bold green]promoted[/]" if decision.promoted else "[bold]kept the champion[/]"
        served = f", serving v{decision.served_version}" if decision.served_version else ""
        out.print(
            f"{verdict}: {decision.reason} (champion v{decision.champion_version}, "
            f"challenger v{decision.challenger_version}{served}, MLflow run {decision.run_id})"
        )
        if decision.change_report:
            from leadscore.lifecycle.change_report import ChangeReport

            report = ChangeReport.from_dict(decision.change_report)
            out.print(report.text(), markup=False, highlight=False)

    if every:
        retrain_every(every, handle_errors(once), err)
    else:
        once()


@contextlib.contextmanager
def _open_store(url: str) -> Iterator[Store | None]:
    """The score store whose open leads a promotion's change report covers, when it exists
    (a SQLite file that is not there is not created: the report then covers the judging
    leads)."""
    from leadscore.data.masking import mask_text
    from leadscore.store import Store

    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        yield None
        return
    try:
        store = Store(url)
    except Exception as exc:  # a store away: the retraining goes on, the report covers less
        err.print(f"[yellow]score store unavailable, the change report covers the judging "
                  f"leads:[/] {mask_text(str(exc))}")  # fmt: skip
        yield None
        return
    with store:
        yield store
