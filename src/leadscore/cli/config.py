"""``config show``: every setting in effect, and where its value came from."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from leadscore.cli.common import ConfigOpt, DatabaseOpt, handle_errors, out, resolve
from leadscore.config import Resolved, mask_url

config_app = typer.Typer(help="The settings in effect and where each comes from.")

#: how ``config show`` colours a source (defaults stay plain)
SOURCE_STYLE = {"file": "green", "env": "cyan", "dashboard": "magenta", "flag": "bold yellow"}


@config_app.command("show")
@handle_errors
def config_show(
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON: each setting's value and source.")
    ] = False,
) -> None:
    """Every effective setting, its value and its source: default, file, env, dashboard
    (saved on the dashboard's Settings page) or flag. Secrets are masked."""
    resolved = resolve(config, database)
    if as_json:
        print(json.dumps(config_document(resolved), indent=2))
        return
    found = "" if resolved.file.is_file() else " (not found: defaults and environment only)"
    out.print(Text(f"settings file: {resolved.file}{found}"))
    store = mask_url(resolved.settings.database_url)
    out.print(Text(f"dashboard values: read from the score store at {store}"))
    table = Table(header_style="bold")
    for name in ("setting", "value", "source"):
        table.add_column(name)
    for item in resolved.values():
        style = SOURCE_STYLE.get(item.source, "")
        table.add_row(item.name, Text(shown_value(item.value)), Text(item.source, style=style))
    out.print(table)


def config_document(resolved: Resolved) -> dict[str, Any]:
    """What ``config show --json`` prints: the file, the store, every setting's value and
    source (secrets masked), and the notes.

    Parameters
    ----------
    resolved:
        The resolved settings.

    Example
    -------
    >>> from leadscore.config import resolve_settings
    >>> config_document(resolve_settings())["settings"]["business.cost_per_contact"]
    {'value': 15.0, 'source': 'default'}
    """
    return {
        "file": str(resolved.file),
        "file_found": resolved.file.is_file(),
        "database": mask_url(resolved.settings.database_url),
        "settings": {v.name: {"value": v.value, "source": v.source} for v in resolved.values()},
        "notes": list(resolved.notes),
    }


def shown_value(value: Any) -> str:
    """A setting's value as the table shows it: text as is, the rest as in JSON.

    Example
    -------
    >>> shown_value(["", "Select"]), shown_value(None), shown_value("champion")
    ('["", "Select"]', 'null', 'champion')
    """
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
