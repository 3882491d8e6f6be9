"""``leadscore outcomes``: outcomes recorded in bulk from a CRM export."""

from __future__ import annotations

from typing import Annotated

import numpy as np
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
from leadscore.config import Settings

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
    contacted: Annotated[
        str | None,
        typer.Option(
            "--contacted",
            metavar="COLUMN",
            help="Whether sales contacted each lead: yes/no, true/false or 1/0 (empty: not said).",
        ),
    ] = None,
    create: Annotated[
        bool, typer.Option("--create", help="Also record outcomes of leads the store lacks.")
    ] = False,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Record outcomes from a CRM export, one per lead (its latest row when it has
    several); outcomes already recorded are skipped, so re-importing is safe. With
    --contacted each outcome also says whether sales had contacted the lead (the cell of
    the row the outcome is read from), as "contacted" does in POST /v1/outcomes."""
    from leadscore.data.masking import mask_source
    from leadscore.data.sources import read_table
    from leadscore.features.labels import read_outcomes

    settings = settings_with_database(config, database)
    frame = read_table(source, settings=settings)
    table = read_outcomes(
        frame, id_column=id_column, target=target, time_column=time_column,
        settings=settings, keep_latest=True,
    )  # fmt: skip
    said: dict[str, bool] = {}
    if contacted is not None:
        columns = (id_column, target, time_column)
        said = contacted_by_lead(frame, contacted, *columns, settings=settings)
    rows = [
        (str(r.lead_id), bool(r.converted), None if pd.isna(r.outcome_at) else r.outcome_at,
         said.get(str(r.lead_id)))
        for r in table.itertuples(index=False)
    ]  # fmt: skip
    with open_store(config, database) as store:
        done = store.outcomes.add_many(rows, create=create)
    out.print(
        f"{mask_source(source)}: {done.added:,} outcomes recorded, {done.unchanged:,} already "
        f"recorded ({int(table['converted'].sum()):,} of {len(table):,} leads converted)"
    )
    if contacted is not None:
        yes = sum(said.values())
        out.print(
            f"{contacted}: {yes:,} leads contacted, {len(said) - yes:,} not, "
            f"{len(table) - len(said):,} not said"
        )
    if done.unknown:
        sample = ", ".join(done.unknown[:5])
        out.print(
            f"[yellow]{len(done.unknown):,} leads are not in the store and were skipped[/] "
            f"(e.g. {sample}); --create records them anyway"
        )


#: what a ``--contacted`` cell may say (case and spaces aside); an empty cell says nothing
CONTACTED_VALUES = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}


def contacted_column(values: pd.Series, column: str) -> pd.Series:
    """A ``--contacted`` column as True / False / NA (not said), row by row.

    Parameters
    ----------
    values:
        The column as read (text, numbers or booleans).
    column:
        Its name, for the error.

    Raises
    ------
    SchemaError
        A value that is none of yes/no, true/false, 1/0, naming the column, the values
        and their rows.

    Example
    -------
    >>> contacted_column(pd.Series(["Yes", " no", None, "", "TRUE", 0]), "called").tolist()
    [True, False, <NA>, <NA>, True, False]
    """
    from leadscore.data.columns import file_rows, shown
    from leadscore.errors import SchemaError

    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("boolean")
    if pd.api.types.is_numeric_dtype(values.dtype):
        # 1/0 with empty cells reads as 1.0 / 0.0 / NaN
        text = values.map(lambda v: v if pd.isna(v) else f"{v:g}")
    else:
        text = values.astype(object).map(lambda v: v if pd.isna(v) else str(v))
    text = text.map(lambda v: v if pd.isna(v) else v.strip().lower())
    text = text.mask(text == "")
    said = text.map(CONTACTED_VALUES, na_action="ignore")
    bad = text.notna() & said.isna()
    if bad.any():
        raise SchemaError(
            f"--contacted column {column!r} must say yes/no, true/false or 1/0 (empty: not "
            f"said); it holds {shown(values[bad].astype(str).unique())} at rows "
            f"{file_rows(values.index[bad])}"
        )
    return said.astype("boolean")


def contacted_by_lead(
    frame: pd.DataFrame,
    column: str,
    id_column: str | None,
    target: str | None,
    time_column: str | None,
    *,
    settings: Settings,
) -> dict[str, bool]:
    """Whether sales contacted each lead, from the row its outcome is read from
    (:func:`~leadscore.features.labels.read_outcomes` with ``keep_latest``: the latest
    outcome time, the last in the file among equal or missing times); leads whose row says
    nothing are left out.

    Parameters
    ----------
    frame:
        The export as read.
    column:
        The ``--contacted`` column.
    id_column, target, time_column:
        As given to ``read_outcomes`` (None: found by name, as there).
    settings:
        The outcome labels.

    Example
    -------
    >>> export = pd.DataFrame({"lead_id": ["L1", "L2", "L1"], "converted": ["no", "yes", "yes"],
    ...     "closed_at": ["2026-03-01", "2026-03-02", "2026-03-05"],
    ...     "called": ["yes", None, "no"]})
    >>> contacted_by_lead(export, "called", None, None, None, settings=Settings())
    {'L1': False}
    """
    from leadscore.data.columns import missing_column_error, normalise_name
    from leadscore.errors import SchemaError
    from leadscore.features.labels import ID_NAMES, read_outcomes

    if column not in frame.columns:
        raise SchemaError(missing_column_error([column], list(frame.columns), "--contacted"))
    said = contacted_column(frame[column], column).to_numpy()
    by_name = {normalise_name(c): c for c in frame.columns}
    id_column = id_column or next((by_name[n] for n in ID_NAMES if n in by_name), None)
    if id_column not in frame.columns:
        raise SchemaError(missing_column_error([str(id_column)], list(frame.columns), "lead id"))
    ids = frame[id_column].astype("string")
    # each row's outcome under its row number as its id: which rows count, and when
    numbered = pd.Series(np.arange(len(frame)).astype(str), index=frame.index, dtype="string")
    rows = read_outcomes(
        frame.assign(**{id_column: numbered.where(ids.notna())}), id_column=id_column,
        target=target, time_column=time_column, settings=settings,
    )  # fmt: skip
    at = rows["lead_id"].astype(int).to_numpy()
    rows = rows.assign(lead_id=ids.to_numpy()[at], said=said[at])
    # the row keep_latest keeps of each lead's rows
    rows = rows.sort_values("outcome_at", kind="stable", na_position="first")
    kept = rows.drop_duplicates("lead_id", keep="last")
    return {str(lead): bool(v) for lead, v in zip(kept["lead_id"], kept["said"], strict=True)
            if not pd.isna(v)}  # fmt: skip
