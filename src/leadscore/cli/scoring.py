"""Using a model: ``score`` (with the top leads as a table) and ``explain``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.markup import escape

from leadscore.cli.common import ConfigOpt, DatabaseOpt, handle_errors, out
from leadscore.cli.engine import EngineOpt, SparkConfOpt, SparkMasterOpt, on_spark, score_on_spark
from leadscore.cli.options import CapacityOpt
from leadscore.config import load_settings
from leadscore.errors import LeadscoreError
from leadscore.terminal import Column, fitted_table


@handle_errors
def score(
    first: Annotated[
        str,
        typer.Argument(
            metavar="[MODEL] DATA",
            help="MODEL: a model folder, or champion / challenger / a version number from the "
            "registry (default: the champion). DATA: the leads to score.",
        ),
    ],
    second: Annotated[str | None, typer.Argument(metavar="", show_default=False)] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write scores (.csv or .parquet).")
    ] = None,
    capacity: CapacityOpt = None,
    top: Annotated[int, typer.Option("--top", help="Print this many top leads.")] = 10,
    show: Annotated[
        list[str] | None,
        typer.Option("--show", help="Also print this input column for the top leads (repeatable)."),
    ] = None,
    from_events: Annotated[
        bool,
        typer.Option("--events", help="DATA holds raw events: build features, then score."),
    ] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="With --events: score as of this time.")
    ] = None,
    leads: Annotated[
        str | None,
        typer.Option(
            "--leads",
            help="With --events: the CRM table (file or source URL) of a model trained with "
            "CRM fields (features --leads).",
        ),
    ] = None,
    config: ConfigOpt = None,
    reasons: Annotated[
        int, typer.Option("--reasons", help="Add each lead's top K reasons up and down.")
    ] = 0,
    store: Annotated[
        bool,
        typer.Option(
            "--store", help="Also append the scores to the score store (history, webhooks)."
        ),
    ] = False,
    database: DatabaseOpt = None,
    engine: EngineOpt = "single",
    spark_master: SparkMasterOpt = None,
    spark_conf: SparkConfOpt = None,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size",
            help="CSV and Parquet files are read, scored and written this many leads at a "
            "time: memory grows with it, not with the file.",
        ),
    ] = 131_072,  # scoring.streaming.DEFAULT_BATCH_SIZE (not imported: start-up)
) -> None:
    """Score leads with a trained model: score 0–100, hot/warm/cold, rank, contact."""
    # only what the streamed path needs, before it: live scoring, the store and the
    # pipeline's batch path import much more (seconds of start-up)
    from leadscore.lifecycle.registry import CHAMPION, load_lead_model
    from leadscore.scoring.exploration import ExplorationPolicy
    from leadscore.scoring.streaming import can_stream

    model_ref, data = (first, second) if second is not None else (CHAMPION, first)
    if on_spark(engine):
        if store or database:
            raise LeadscoreError("--store keeps scores on this machine: not with --engine spark")
        score_on_spark(
            model_ref, data, out_file, from_events=from_events, as_of=as_of, leads=leads,
            capacity=capacity, reasons=reasons, top=top, config=config, master=spark_master,
            conf=spark_conf,
        )  # fmt: skip
        return
    settings = load_settings(config)
    lead_model = load_lead_model(model_ref, settings)
    if not (from_events or leads or store or database) and can_stream(data):
        policy = ExplorationPolicy.from_settings(settings)
        _score_streamed(
            lead_model, data, out_file, capacity, reasons, top, show or [], batch_size, policy
        )
        return
    from leadscore.data.sources import read_table
    from leadscore.live.batch import score as run_score

    if from_events:
        from leadscore.data.events import load_events

        loaded = load_events(data)
        out.print(loaded.summary())
        frame = lead_model.event_features(loaded.events, as_of=as_of, leads=leads)
        if lead_model.crm_fields and leads is None:
            out.print(
                "[yellow]note:[/] the model was trained with CRM fields "
                f"({', '.join(lead_model.crm_fields)}); without --leads they are missing"
            )
    else:
        if leads is not None:
            raise LeadscoreError("--leads joins CRM fields onto events: use it with --events")
        frame = read_table(data)
    score_store, version = None, "unknown"
    if store or database:
        from leadscore.lifecycle.loader import model_version
        from leadscore.store import Store

        score_store = Store(database or settings.database_url)
        version = model_version(model_ref, lead_model, settings)
    scores = run_score(
        lead_model, frame, out=out_file, capacity=capacity, reasons=reasons,
        store=score_store, model_version=version,
        exploration=ExplorationPolicy.from_settings(settings),
        # scored from events: the leads' events go into the store with their scores (the
        # lead page shows them; a later event re-scores the lead from them)
        events=loaded.events if from_events else None,
    )  # fmt: skip
    print_top(scores, frame, lead_model.id_column_, top, show or [])
    if out_file:
        out.print(f"wrote {len(scores):,} scores to {out_file}")
    if "explored" in scores and scores["explored"].any():
        out.print(
            "exploration: leads below the cut-off drawn at random for a contact "
            f"({settings.exploration.share:.0%} of them; column explored, each lead's chance "
            "in propensity) so the model keeps learning from the leads it would leave alone"
        )
    if score_store is not None:
        from leadscore.data.masking import mask_text
        from leadscore.store import mask

        out.print(
            f"stored {len(scores):,} scores (model version {version}) in "
            f"{mask_text(mask(score_store.url))}"
        )


def _score_streamed(
    model: Any, data: str, out_file: Path | None, capacity: int | None, reasons: int, top: int,
    show: list[str], batch_size: int, policy: Any,
) -> None:  # fmt: skip
    """``score`` of CSV or Parquet files, batch by batch (``scoring.streaming``)."""
    from leadscore.scoring.streaming import score_file

    done = score_file(
        model, data, out=out_file, batch_size=batch_size, capacity=capacity, reasons=reasons,
        exploration=policy, top=top, show=show,
    )  # fmt: skip
    print_top(done.top, done.top, model.id_column_, top, show, tally=done.tally)
    if out_file:
        out.print(f"wrote {done.tally.leads:,} scores to {out_file}")
    if done.tally.explored:
        out.print(
            "exploration: leads below the cut-off drawn at random for a contact "
            f"({policy.share:.0%} of them; column explored, each lead's chance in propensity) "
            "so the model keeps learning from the leads it would leave alone"
        )


@handle_errors
def explain(
    first: Annotated[
        str,
        typer.Argument(metavar="[MODEL] DATA", help="Model (default: the champion) and leads."),
    ],
    second: Annotated[str | None, typer.Argument(metavar="", show_default=False)] = None,
    lead: Annotated[
        list[str] | None, typer.Option("--lead", help="Explain this lead id (repeatable).")
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Without --lead: the top N leads.")] = 5,
    reasons: Annotated[int, typer.Option("--reasons", help="Reasons each way.")] = 4,
    config: ConfigOpt = None,
) -> None:
    """Why leads scored as they did: each field's push in score points."""
    from leadscore.data.sources import read_table
    from leadscore.lifecycle.registry import CHAMPION, load_lead_model
    from leadscore.scoring.contributions import contributions
    from leadscore.scoring.reasons import reasons as lead_reasons

    model_ref, data = (first, second) if second is not None else (CHAMPION, first)
    model = load_lead_model(model_ref, load_settings(config))
    frame = read_table(data).reset_index(drop=True)
    scores = model.score_leads(frame)
    key = model.id_column_ or "lead"
    if lead:
        wanted = scores.index[scores[key].isin([str(x) for x in lead])]
        missing = sorted(set(map(str, lead)) - set(scores.loc[wanted, key]))
        if missing:
            raise LeadscoreError(f"no lead with id {', '.join(missing)} in {data}")
    else:
        wanted = scores.sort_values("rank").index[:top]
    rows = frame.loc[wanted].reset_index(drop=True)
    explained = contributions(model, rows)
    base = explained.base_score * 100
    for i, (up, down) in enumerate(lead_reasons(model, rows, reasons, explained)):
        row = scores.loc[wanted[i]]
        out.print(
            f"[bold]{key} {row[key]}[/]: score [bold]{row['score_100']}[/] ({row['segment']}), "
            f"{'contact' if row['contact'] else 'do not contact'}; a typical lead scores "
            f"{base[i]:.0f}"
        )
        for reason in up:
            out.print(f"  [green]▲[/] {reason.text}", highlight=False)
        for reason in down:
            out.print(f"  [red]▼[/] {reason.text}", highlight=False)


def _explored_part(scores: pd.DataFrame) -> str:
    """`` (5 of them by exploration)`` when the scores explored some leads."""
    if "explored" not in scores or not (explored := int(scores["explored"].sum())):
        return ""
    return f" ({explored:,} of them by exploration)"


def print_top(
    scores: pd.DataFrame,
    frame: pd.DataFrame,
    id_column: str | None,
    top: int,
    show: list[str],
    tally: Any = None,
) -> None:
    """Print the segment counts and the top leads as a table.

    Parameters
    ----------
    scores:
        What :meth:`LeadModel.score_leads` returned (best first by ``rank``).
    frame:
        The scored input, for the ``--show`` columns.
    id_column:
        The lead id column of the model (``None``: leads are numbered).
    top:
        How many leads to list.
    show:
        Input columns to print beside them (those not in ``frame`` are skipped).
    tally:
        The counts of all the leads scored (a :class:`~leadscore.scoring.streaming.Tally`),
        when ``scores`` holds the top leads only.

    Example
    -------
    >>> frame = leads.head(20)
    >>> print_top(model.score_leads(frame).sort_values("rank"), frame, "lead_id", 3, ["source"])
    20 leads: 2 hot, 2 warm, 16 cold; 4 to contact
                          Top 3 leads
    ┏━━━━━━┳━━━━━━━━━┳━━━━━━━┳━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━┓
    ┃ rank ┃ lead_id ┃ score ┃ segment ┃ contact ┃ source ┃
    ┡━━━━━━╇━━━━━━━━━╇━━━━━━━╇━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━┩
    │    1 │ L000010 │    14 │ hot     │ yes     │ direct │
    │    2 │ L000016 │    13 │ hot     │ yes     │ direct │
    │    3 │ L000008 │     9 │ warm    │ yes     │ google │
    └──────┴─────────┴───────┴─────────┴─────────┴────────┘
    """
    counts = scores["segment"].value_counts().to_dict()
    leads, contacted, explored = len(scores), int(scores["contact"].sum()), _explored_part(scores)
    if tally is not None:
        counts = {"hot": tally.hot, "warm": tally.warm, "cold": tally.cold}
        leads, contacted = tally.leads, tally.contacted
        explored = f" ({tally.explored:,} of them by exploration)" if tally.explored else ""
    out.print(
        f"{leads:,} leads: [bold red]{counts.get('hot', 0):,} hot[/], "
        f"[bold yellow]{counts.get('warm', 0):,} warm[/], "
        f"[bold blue]{counts.get('cold', 0):,} cold[/]; "
        f"{contacted:,} to contact{explored}"
    )
    key = id_column or "lead"
    extra = [c for c in show if c in frame.columns]
    extra += [c for c in ("reasons_up", "reasons_down") if c in scores.columns]
    head = scores.head(top)
    shown = [c for c in extra if c not in head.columns]
    if shown and id_column and id_column in frame.columns:
        details = frame.assign(**{key: frame[id_column].astype(str)}).drop_duplicates(key)
        head = head.join(details.set_index(key)[shown], on=key)
    colour = {"hot": "red", "warm": "yellow", "cold": "blue"}
    rows = [
        [str(row["rank"]), escape(str(row[key])), f"{row['score_100']}",
         f"[{colour[row['segment']]}]{row['segment']}[/]", "yes" if row["contact"] else "no",
         *[escape(_cell(row.get(c))) for c in extra]]
        for row in head.to_dict("records")
    ]  # fmt: skip
    # the lead, its score and decision keep their width; the --show columns go first in a
    # narrow terminal (the output file has them all), reasons wrap
    columns = [
        Column("rank", 0), Column(key, 0, justify="left"), Column("score", 0),
        Column("segment", 0, justify="left"), Column("contact", 0, justify="left"),
        *(Column(c, 1 if c.startswith("reasons") else 2, wrap=True, justify="left")
          for c in extra),
    ]  # fmt: skip
    # the markup of the segment cell is not part of its width
    table, left_out = fitted_table(
        columns, rows, out.width, title=f"Top {min(top, len(scores))} leads", header_style="bold"
    )
    if left_out:
        table.caption = f"left out at this width: {', '.join(left_out)} (in the output file)"
    out.print(table)


def _cell(value: Any) -> str:
    """A table cell: whole floats without ".0", missing as blank."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    return str(value)
