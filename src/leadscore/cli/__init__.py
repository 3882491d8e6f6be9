"""The ``leadscore`` command line: one command per job, a module per command group.

Every command that reads a lead table takes the same column-role options (``--target``,
``--id``, ``--time``, ``--exclude``, ``--keep``) and reads ``leadscore.toml`` from the
working directory (or ``--config``). Problems with the input print one clear line and
exit with status 2.

=====================  ============================================================
module                 commands
=====================  ============================================================
``cli.data``           ``demo-data``, ``ingest``, ``features``, ``dataset``
``cli.modeling``       ``audit``, ``compare``, ``train``
``cli.scoring``        ``score``, ``explain``
``cli.reporting``      ``insights``, ``report``
``cli.models``         ``models list|show|promote|rollback``, ``mlflow-ui``
``cli.outcomes``       ``outcomes import``
``cli.monitor``        ``monitor report|movers|notify``
``cli.overrides``      ``override``
``cli.retrain``        ``retrain``
``cli.service``        ``serve``, ``keys …``, ``webhooks …``
``cli.dashboard``      ``ui``, ``users …``
``cli.config``         ``config show``
``cli.demo_loop``      ``demo-outcomes`` (outcomes of the fresh demo leads through the API)
``cli.demo_live``      ``demo-live`` (``make demo``: 90 days simulated, outcomes through the API)
=====================  ============================================================

A command's module is imported when the command runs (or ``--help`` lists it), not
before: ``leadscore score`` does not pay for the service's, the dashboard's and the
simulations' imports.

:mod:`leadscore.cli.common` holds the consoles, the error handling and the settings
(one resolver: file, environment, values saved from the dashboard, flags),
:mod:`leadscore.cli.options` the options several commands share.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, MutableMapping

import click
import typer
from typer.core import TyperGroup

# loading a registered model (champion …) downloads its artefacts from MLflow's store, a
# progress bar per command otherwise; a terminal's reader wants the command's own output
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

#: every command, in the order ``leadscore --help`` lists them: its module and the function
#: (or, for a group of commands, the Typer app) that module defines
COMMANDS: dict[str, tuple[str, str]] = {
    "demo-data": ("data", "demo_data"),
    "ingest": ("data", "ingest"),
    "features": ("data", "features"),
    "dataset": ("data", "dataset"),
    "audit": ("modeling", "audit"),
    "compare": ("modeling", "compare"),
    "train": ("modeling", "train"),
    "score": ("scoring", "score"),
    "explain": ("scoring", "explain"),
    "insights": ("reporting", "insights"),
    "mlflow-ui": ("models", "mlflow_ui"),
    "report": ("reporting", "report"),
    "override": ("overrides", "override"),
    "retrain": ("retrain", "retrain"),
    "serve": ("service", "serve"),
    "ui": ("dashboard", "ui_command"),
    "demo-outcomes": ("demo_loop", "demo_outcomes"),
    "demo-live": ("demo_live", "demo_live"),
    # the groups of commands after the commands
    "models": ("models", "models_app"),
    "outcomes": ("outcomes", "outcomes_app"),
    "monitor": ("monitor", "monitor_app"),
    "keys": ("service", "keys_app"),
    "webhooks": ("service", "hooks_app"),
    "users": ("dashboard", "users_app"),
    "config": ("config", "config_app"),
}


def _command(name: str) -> click.Command:
    """The click command ``name``, its module imported now."""
    module, attribute = COMMANDS[name]
    target = getattr(importlib.import_module(f"leadscore.cli.{module}"), attribute)
    holder = typer.Typer()
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
    return typer.main.get_group(holder).commands[name]


class _Commands(MutableMapping[str, click.Command]):
    """The app's commands by name, each built the first time it is looked up."""

    def __init__(self) -> None:
        self.names = list(COMMANDS)
        self.built: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self.built:
            if name not in self.names:
                raise KeyError(name)
            self.built[name] = _command(name)
        return self.built[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        if name not in self.names:
            self.names.append(name)
        self.built[name] = command

    def __delitem__(self, name: str) -> None:
        self.names.remove(name)
        self.built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.names))

    def __len__(self) -> int:
        return len(self.names)


class _LazyGroup(TyperGroup):
    """The ``leadscore`` group, its commands imported on demand."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.commands = _Commands()

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


app = typer.Typer(
    name="leadscore",
    help="Predictive lead scoring: audit lead data, compare models, train, score.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=_LazyGroup,
)


@app.callback()
def _root() -> None:
    # a callback makes Typer build a group even before any command is registered
    pass


__all__ = ["COMMANDS", "app"]
