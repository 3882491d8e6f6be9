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

:mod:`leadscore.cli.common` holds the consoles, the error handling and the settings
(one resolver: file, environment, values saved from the dashboard, flags),
:mod:`leadscore.cli.options` the options several commands share.
"""

from __future__ import annotations

import os

import typer

from leadscore.cli import (
    config,
    dashboard,
    data,
    demo_live,
    demo_loop,
    modeling,
    models,
    monitor,
    outcomes,
    overrides,
    reporting,
    retrain,
    scoring,
    service,
)

# loading a registered model (champion …) downloads its artefacts from MLflow's store, a
# progress bar per command otherwise; a terminal's reader wants the command's own output
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

app = typer.Typer(
    name="leadscore",
    help="Predictive lead scoring: audit lead data, compare models, train, score.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# in the order ``leadscore --help`` lists them
app.command("demo-data")(data.demo_data)
app.command("ingest")(data.ingest)
app.command("features")(data.features)
app.command("dataset")(data.dataset)
app.command("audit")(modeling.audit)
app.command("compare")(modeling.compare)
app.command("train")(modeling.train)
app.command("score")(scoring.score)
app.command("explain")(scoring.explain)
app.command("insights")(reporting.insights)
app.add_typer(models.models_app, name="models")
app.command("mlflow-ui")(models.mlflow_ui)
app.command("report")(reporting.report)
app.add_typer(outcomes.outcomes_app, name="outcomes")
app.add_typer(monitor.monitor_app, name="monitor")
app.command("override")(overrides.override)
app.command("retrain")(retrain.retrain)
app.command("serve")(service.serve)
app.add_typer(service.keys_app, name="keys")
app.add_typer(service.hooks_app, name="webhooks")
app.command("ui")(dashboard.ui_command)
app.add_typer(dashboard.users_app, name="users")
app.add_typer(config.config_app, name="config")
app.command("demo-outcomes")(demo_loop.demo_outcomes)
app.command("demo-live")(demo_live.demo_live)

__all__ = ["app"]
