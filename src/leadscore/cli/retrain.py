"""``retrain``: a challenger on a sliding window, promoted only if it beats the champion."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from leadscore.cli.common import err, handle_errors, out
from leadscore.cli.options import (
    NO_FLAGS,
    ROLES,
    STORE,
    Flags,
    QuietOpt,
    build_settings,
    shared_options,
)
from leadscore.errors import LeadscoreError

if TYPE_CHECKING:
    from leadscore.config import Settings
    from leadscore.features.build import LeadFeatureBuilder
    from leadscore.store import Store


@handle_errors
@shared_options(*ROLES, *STORE)
def retrain(
    data: Annotated[
        str | None,
        typer.Argument(
            help="Lead table: a CSV or Parquet file, a folder or glob, s3://…, or a database "
            "URL with ?table= or ?query= (passwords are never printed); or --from-store."
        ),
    ] = None,
    from_store: Annotated[
        bool,
        typer.Option(
            "--from-store",
            help="Train on the score store: every lead with a recorded outcome, its features "
            "as of its outcome (leadscore dataset --from-store), rebuilt at every run.",
        ),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option("--since", help="With --from-store: only outcomes from this date on."),
    ] = None,
    weight_by_propensity: Annotated[
        bool,
        typer.Option(
            "--weight-by-propensity",
            help="With --from-store: weight each lead by 1 / its chance of contact at its "
            "last score before its outcome (explored leads stand for the leads below the "
            "cut-off nobody called); champion and challenger are judged with the same weights.",
        ),
    ] = False,
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

    if (data is None) == (not from_store):
        raise LeadscoreError("give the lead table or --from-store (one of them)")
    if weight_by_propensity and not from_store:
        raise LeadscoreError(
            "--weight-by-propensity reads the propensities stored with the scores: add --from-store"
        )
    build_settings(flags)  # a bad setting fails now, not at the first scheduled run

    def once() -> None:
        # resolved afresh for every run: values saved from the dashboard meanwhile apply
        settings = build_settings(flags)
        with (
            _open_store(settings.database_url, required=from_store) as store,
            _training_data(data, store, since, settings, weight_by_propensity) as training,
        ):
            table, time_role = training
            roles = settings.roles if time_role is None else settings.roles.merged(time=time_role)
            decision = run_retrain(
                table, window=window, holdout=holdout, metric=metric, margin=margin,
                settings=settings, roles=roles, console=err, show_progress=not quiet,
                store=store, weighted=weight_by_propensity,
            )  # fmt: skip
        verdict = "[bold green]promoted[/]" if decision.promoted else "[bold]kept the champion[/]"
        reason = decision.reason.removeprefix("champion kept: ")  # the verdict says it
        served = f", serving v{decision.served_version}" if decision.served_version else ""
        out.print(
            f"{verdict}: {reason} (champion v{decision.champion_version}, "
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


def _champions_builder(settings: Settings) -> LeadFeatureBuilder | None:
    """The serving champion's feature builder, if it has one: the store's events become
    the features it was trained on, so it can be judged beside its challenger (a new
    builder's vocabulary of pages and journeys would differ from the champion's)."""
    from leadscore.lifecycle.registry import CHAMPION, load_lead_model

    try:
        champion = load_lead_model(CHAMPION, settings)
    except LeadscoreError:  # no champion yet: the store's events fit a new builder
        return None
    return getattr(champion, "feature_builder_", None)


@contextlib.contextmanager
def _training_data(
    data: str | None,
    store: Store | None,
    since: str | None,
    settings: Settings,
    weight_by_propensity: bool = False,
) -> Iterator[tuple[str, str | None]]:
    """The table to retrain on, and the time role it needs: ``data`` as given, or the score
    store's training table written to a temporary folder (with the feature builder and
    description ``train`` reads beside it; its time is each lead's first event; with
    ``weight_by_propensity`` its weight column, named in the description)."""
    if data is not None:
        yield data, None
        return
    from leadscore.features.table import TIME
    from leadscore.lifecycle.store_dataset import save_store_dataset, store_dataset

    assert store is not None  # --from-store opens it or fails (_open_store)
    with err.status("building the training table from the score store"):
        built = store_dataset(
            store,
            since=since,
            builder=_champions_builder(settings),
            weight_by_propensity=weight_by_propensity,
        )
    converted = (built.table["converted"] == "yes").mean()
    err.print(
        f"from the score store: {len(built.table):,} leads with outcomes ({converted:.1%} "
        f"converted), {built.events:,} events, {len(built.fields)} attribute fields"
    )
    if built.weight is not None:
        for note in built.notes:
            if "propensity" in note or "weight" in note:
                err.print(f"[dim]{note}[/]")
    with tempfile.TemporaryDirectory(prefix="leadscore-retrain-") as tmp:
        path = save_store_dataset(built, Path(tmp) / "from_store.parquet")["table"]
        yield str(path), TIME if built.builder is not None else None


@contextlib.contextmanager
def _open_store(url: str, *, required: bool = False) -> Iterator[Store | None]:
    """The score store whose open leads a promotion's change report covers, when it exists
    (a SQLite file that is not there is not created: the report then covers the judging
    leads); ``required`` (the training data comes from it): a missing or unreachable
    store is an error."""
    from leadscore.data.masking import mask_text
    from leadscore.store import Store

    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        if required:
            raise LeadscoreError(f"no score store at {mask_text(url)} to train from")
        yield None
        return
    if required:
        with Store(url) as store:
            yield store
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
