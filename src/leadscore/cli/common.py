"""What every ``leadscore`` command shares: the consoles, the error handling, the
``--config`` and ``--database`` options, the settings and opening the score store.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from leadscore.config import Resolved, Settings, resolve_settings
from leadscore.data.masking import mask_text
from leadscore.errors import LeadscoreError

if TYPE_CHECKING:
    from leadscore.store import Store

#: what a command prints as its result (stdout)
out = Console(soft_wrap=True)
#: progress, notes and errors (stderr)
err = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Settings file (default: ./leadscore.toml).")
]
DatabaseOpt = Annotated[
    str | None, typer.Option("--database", help="Score store URL (LEADSCORE_DATABASE_URL).")
]


def handle_errors(func: F) -> F:
    """Turn user-facing errors into one red line and exit status 2, never a traceback;
    passwords and secrets in the messages are masked (:func:`~leadscore.data.masking.mask_text`).

    Parameters
    ----------
    func:
        A command function; :class:`~leadscore.errors.LeadscoreError` raised inside it
        becomes exit status 2, an unexpected exception exit status 1 (with the traceback
        under ``LEADSCORE_DEBUG=1``), Ctrl-C exit status 130.

    Example
    -------
    >>> @handle_errors
    ... def hello() -> None:
    ...     out.print("hello")
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LeadscoreError as exc:
            # The message quotes the user's data: print it literally, never as markup, and
            # without the password or secret of any URL it quotes.
            err.print(Text.assemble(("error: ", "bold red"), mask_text(str(exc))), soft_wrap=True)
            raise typer.Exit(2) from None
        except (typer.Exit, typer.Abort):  # a command's own exit status, not a bug
            raise
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None
        except BrokenPipeError:  # `leadscore … | head`: the reader has what it wanted
            # stdout is closed: point it at /dev/null so the exit's flush raises no more
            with contextlib.suppress(OSError, ValueError):  # no file descriptor: nothing to do
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(141) from None  # what a shell reports for SIGPIPE
        except Exception as exc:  # a bug in leadscore, not in the input
            if os.environ.get("LEADSCORE_DEBUG"):
                raise
            err.print(
                Text.assemble(
                    ("internal error: ", "bold red"),
                    f"{type(exc).__name__}: {mask_text(str(exc))}\n",
                    "This is a bug in leadscore; rerun with LEADSCORE_DEBUG=1 for details.",
                )
            )
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def resolve(
    config: Path | None,
    database: str | None = None,
    flags: Mapping[str, Any] | None = None,
    *,
    dashboard: bool = True,
) -> Resolved:
    """The command's settings: file, environment, the values saved from the dashboard (in
    the score store of ``--database``, else of the settings), flags.

    Parameters
    ----------
    config:
        ``--config``: a settings file (default ``./leadscore.toml`` when present).
    database:
        ``--database``: the score store URL, over ``database_url`` of the settings.
    flags:
        Other flags by dotted setting name (see :func:`~leadscore.config.resolve_settings`).
    dashboard:
        Whether to read the values saved from the dashboard (commands that only need the
        store's URL or the registry skip it). What cannot be used is printed as a note.

    Example
    -------
    >>> resolve(None, flags={"business.cost_per_contact": 20.0}).settings.business.cost_per_contact
    20.0
    """
    from leadscore.store import read_saved_settings

    given = {**(flags or {}), "database_url": database or None}
    resolved = resolve_settings(
        config, saved=read_saved_settings if dashboard else None, flags=given
    )
    for note in resolved.notes:
        err.print(Text.assemble(("note: ", "yellow"), note))
    return resolved


def settings_with_database(config: Path | None, database: str | None) -> Settings:
    """The project settings, with ``--database`` (when given) as the store URL; without
    the dashboard's saved values (commands that use them call :func:`resolve`).

    Parameters
    ----------
    config:
        ``--config``: a settings file (default ``./leadscore.toml`` when present).
    database:
        ``--database``: the score store URL, over ``database_url`` of the settings.

    Example
    -------
    >>> settings_with_database(None, "sqlite:///other.db").database_url
    'sqlite:///other.db'
    """
    return resolve(config, database, dashboard=False).settings


def open_store(config: Path | None, database: str | None) -> Store:
    """The score store of ``--database``, else of the settings (migrated on opening).

    Parameters
    ----------
    config, database:
        As for :func:`settings_with_database`.

    Example
    -------
    >>> opened = open_store(None, "sqlite:///crm-scores.db")
    >>> opened
    Store('sqlite:///crm-scores.db')
    >>> opened.close()
    """
    from leadscore.store import Store

    return Store(settings_with_database(config, database).database_url)
