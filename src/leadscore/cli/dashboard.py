"""The dashboard's commands:

* ``leadscore ui`` — run the dashboard (``streamlit run`` of :mod:`leadscore.ui.app`);
* ``leadscore users add|list|remove|set-role|set-password`` — dashboard users.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leadscore.cli.common import (
    ConfigOpt,
    DatabaseOpt,
    handle_errors,
    open_store,
    out,
    settings_with_database,
)
from leadscore.errors import LeadscoreError

#: the Streamlit script of the dashboard
APP_FILE = Path(__file__).resolve().parent.parent / "ui" / "app.py"


# ----------------------------------------------------------------------------- ui


def streamlit_command(
    port: int, host: str, max_upload_mb: int, app_file: Path = APP_FILE
) -> list[str]:
    """The ``streamlit run`` command line of the dashboard.

    Example
    -------
    >>> streamlit_command(8501, "127.0.0.1", 200)[1:4]
    ['-m', 'streamlit', 'run']
    """
    return [
        sys.executable, "-m", "streamlit", "run", str(app_file),
        "--server.port", str(port),
        "--server.address", host,
        "--server.headless", "true",
        "--server.maxUploadSize", str(max_upload_mb),
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
        "--theme.base", "light",
    ]  # fmt: skip


def dashboard_env(
    *,
    database: str | None,
    config: Path | None,
    directory: Path,
    max_upload_mb: int,
    base: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment the dashboard process runs with: this one, plus where its store,
    settings and folder are."""
    from leadscore.ui.config import DIR_ENV, UPLOAD_ENV

    env = dict(os.environ if base is None else base)
    if database:
        env["LEADSCORE_DATABASE_URL"] = database
    if config:
        env["LEADSCORE_CONFIG"] = str(Path(config).resolve())
    env[DIR_ENV] = str(Path(directory).resolve())
    env[UPLOAD_ENV] = str(max_upload_mb)
    return env


@handle_errors
def ui_command(
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 8501,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    directory: Annotated[
        Path,
        typer.Option("--dir", help="Dashboard folder: loaded data sets and trained models."),
    ] = Path("dashboard"),
    max_upload_mb: Annotated[
        int, typer.Option("--max-upload-mb", help="Largest file an upload may be.")
    ] = 200,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="Load this lead table (any source) as the current data set before starting.",
        ),
    ] = None,
    database: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The dashboard (Streamlit): leads, insights, data, models, monitoring, settings."""
    from leadscore.data.masking import mask_text
    from leadscore.store import mask

    if max_upload_mb < 1:
        raise LeadscoreError(f"--max-upload-mb must be at least 1, not {max_upload_mb}")
    settings = settings_with_database(config, database)
    store = open_store(config, database)  # creates or upgrades the schema; fails clearly here
    if not store.users.all():
        out.print(
            "[yellow]no dashboard users yet:[/] leadscore users add NAME --role admin "
            "(prints a random password)"
        )
    if data:
        from leadscore.ui.workspace import Workspace, load_dataset

        info = load_dataset(
            store, Workspace(directory.resolve()), data, settings, by="leadscore ui"
        )
        out.print(
            f"current data set: {info.name} ({info.rows:,} leads, "
            f"{info.labelled:,} with an outcome)"
        )
    store.close()
    store_url = mask_text(mask(settings.database_url))  # ?password=… too
    out.print(f"Dashboard: http://{host}:{port}  (scores in {store_url})")
    env = dashboard_env(
        database=settings.database_url, config=config, directory=directory,
        max_upload_mb=max_upload_mb,
    )  # fmt: skip
    command = streamlit_command(port, host, max_upload_mb)
    sys.stdout.flush()
    sys.stderr.flush()
    # this process becomes Streamlit: a SIGTERM or Ctrl-C reaches the server itself (as a
    # child it was left running on its port when only its parent was stopped)
    os.execve(command[0], command, env)


# ----------------------------------------------------------------------------- users

users_app = typer.Typer(help="Dashboard users: admins change data, models and settings.")


@users_app.command("add")
@handle_errors
def users_add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ @ -).")],
    role: Annotated[str, typer.Option("--role", help="admin or viewer.")] = "viewer",
    password: Annotated[
        str | None,
        typer.Option("--password", help="At least 8 characters (default: a random one, printed)."),
    ] = None,
    database: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create a user; without --password a random one is printed once."""
    from leadscore.ui.auth import random_password

    chosen = password or random_password()
    try:
        user = open_store(config, database).users.add(name, chosen, role)
    except ValueError as exc:
        raise LeadscoreError(str(exc)) from None
    out.print(f"user {user.name} ({user.role}) created")
    if password is None:
        out.print("password (shown once):")
        print(chosen)


@users_app.command("list")
@handle_errors
def users_list(database: DatabaseOpt = None, config: ConfigOpt = None) -> None:
    """Users, their roles and last sign-in."""
    table = Table(header_style="bold")
    for column in ("name", "role", "created", "last sign-in"):
        table.add_column(column)
    for user in open_store(config, database).users.all():
        table.add_row(
            user.name,
            user.role,
            f"{user.created_at:%Y-%m-%d %H:%M}",
            f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "",
        )
    out.print(table)


@users_app.command("remove")
@handle_errors
def users_remove(
    name: Annotated[str, typer.Argument(help="User name.")],
    database: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Delete a user (not the last admin)."""
    user = open_store(config, database).users.remove(name)
    out.print(f"user {user.name} removed")


@users_app.command("set-role")
@handle_errors
def users_set_role(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Argument(help="admin or viewer.")],
    database: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Make a user admin or viewer (the last admin stays admin)."""
    user = open_store(config, database).users.set_role(name, role)
    out.print(f"user {user.name} is now {user.role}")


@users_app.command("set-password")
@handle_errors
def users_set_password(
    name: Annotated[str, typer.Argument(help="User name.")],
    password: Annotated[
        str | None, typer.Option("--password", help="Default: a random one, printed.")
    ] = None,
    database: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Give a user a new password."""
    from leadscore.ui.auth import random_password

    chosen = password or random_password()
    user = open_store(config, database).users.set_password(name, chosen)
    out.print(f"password of {user.name} changed")
    if password is None:
        out.print("new password (shown once):")
        print(chosen)
