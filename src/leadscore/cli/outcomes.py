"""``leadscore outcomes``: outcomes recorded in bulk from a CRM export."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer

from leadscore.cli.common import (
    ConfigOpt,
    DatabaseOpt,
    handle_errors,
    open_store,
    out,
    settings_with_database,
)

outcomes_app = typer.Typer(help="Outcomes (converted or lost) recorded in the score store.")


@outcomes_app.command("import")
@handle_errors
def import_outcomes(
    source: Annotated[str, typer.Argument(help="CRM export: a file or a source URL.")],
    id_column: Annotated[str | None, typer.Option("--id", help="Lead id column.")] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Outcome column (converted, won …).")
    ] = None,
    time_column: Annotated[
        str | None, typer.Option("--time", help="When it converted or was lost.")
    ] = None,
    create: Annotated[
        bool, typer.Option("--create", help="Also record outcomes of leads the store lacks.")
    ] = False,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Record outcomes from a CRM export, one per lead (its latest row when it has
    several); outcomes already recorded are skipped, so re-importing is safe."""
    from leadscore.data.masking import mask_source
    from leadscore.features.labels import read_outcomes

    settings = settings_with_database(config, database)
    table = read_outcomes(
        source, id_column=id_column, target=target, time_column=time_column,
        settings=settings, keep_latest=True,
    )  # fmt: skip
    rows = [
        (str(r.lead_id), bool(r.converted), None if pd.isna(r.outcome_at) else r.outcome_at)
        for r in table.itertuples(index=False)
    ]
    with open_store(config, database) as store:
        done = store.outcomes.add_many(rows, create=create)
    out.print(
        f"{mask_source(source)}: {done.added:,} outcomes recorded, {done.unchanged:,} already "
        f"recorded ({int(table['converted'].sum()):,} of {len(table):,} leads converted)"
    )
    if done.unknown:
        sample = ", ".join(done.unknown[:5])
        out.print(
            f"[yellow]{len(done.unknown):,} leads are not in the store and were skipped[/] "
            f"(e.g. {sample}); --create records them anyway"
        )
