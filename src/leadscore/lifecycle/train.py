"""Train the leaderboard's best model (or a named one) and save it."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rich.console import Console

from leadscore.config import Roles, Settings
from leadscore.data.lead_table import LeadTable
from leadscore.data.roles import sidecar_path
from leadscore.data.sources import TableLike
from leadscore.features.build import LeadFeatureBuilder
from leadscore.features.table import load_builder
from leadscore.lifecycle.artifacts import save_model
from leadscore.lifecycle.compare import source_name
from leadscore.modeling.compare import compare, cross_validate, table_weights, validation_order
from leadscore.modeling.dictionary import entries_for, read_data_dictionary
from leadscore.modeling.families import DataProfile, get_families
from leadscore.modeling.folds import fold_count, make_folds
from leadscore.modeling.importance import permutation_importance
from leadscore.modeling.leaderboard import Leaderboard
from leadscore.modeling.model import LeadModel
from leadscore.modeling.preprocess import plan_columns

#: training leads explained to record the model's global drivers (``LeadModel.drivers_``)
DRIVER_SAMPLE = 500


def train(
    data: TableLike | LeadTable,
    *,
    roles: Roles | None = None,
    settings: Settings | None = None,
    model: str | None = None,
    models: list[str] | None = None,
    sort: str = "auc",
    cv: int | None = None,
    out: str | Path | None = None,
    leaderboard_out: str | Path | None = None,
    track: bool | None = None,
    console: Console | None = None,
    show_progress: bool = True,
    budget: float | str | None = None,
    params: dict[str, Any] | None = None,
    features_of: str | Path | None = None,
    weighted: bool = False,
    dictionary: str | Path | Mapping[str, Mapping[str, Any]] | None = None,
    **role_overrides: Any,
) -> LeadModel:
    """Compare candidates, tune the leaders, fit the best on all rows, calibrate, choose
    thresholds, save.

    Parameters
    ----------
    data:
        Path of a CSV/Parquet file, a DataFrame or a prepared :class:`LeadTable`.
    model:
        Train this candidate (e.g. ``"catboost"``) instead of the leaderboard's best.
    models:
        Restrict the comparison to these candidates.
    sort:
        Metric that decides the best candidate (auc, profit, …).
    out:
        Directory to save the model in.
    leaderboard_out:
        Also write the comparison's leaderboard here (.csv or .json).
    track:
        Record an MLflow run and register the model (default: ``settings.tracking``).
    console:
        Where to report left-out leakage suspects and print the leaderboard.
    budget:
        Hyperparameter search time: seconds, ``"60s"``, ``"auto"`` or 0 (none); default
        ``settings.tuning_budget`` (``auto``: half as long as the comparison took).
    params:
        Fixed estimator settings for ``model`` (refitting a tuned model on more leads): no
        search; the model is validated and fitted with them.
    features_of:
        The lead table file (``leadscore features``) whose feature builder the model
        carries, when ``data`` is a prepared table cut from it (retraining on a window):
        the model then scores raw events too. Default: ``data`` itself when it is a path.
    weighted:
        Weight every lead by the table's weight column (its ``weight`` role): the
        comparison, the fits, calibration, threshold and metrics (see
        :func:`leadscore.modeling.compare.compare`).
    dictionary:
        A data dictionary file (default ``settings.leakage.dictionary``, ``--dictionary``),
        or what an earlier model recorded of one (``metadata_["dictionary"]["fields"]``,
        to keep a retrained model's wording): what it says of the inputs (labels, units,
        whether sales can act, level labels) is kept in ``metadata_["dictionary"]``, so
        every scorer words reasons by it without the file.
    roles, settings, cv, show_progress, **role_overrides:
        As for :func:`leadscore.compare`.

    Example (it compares the candidates and tunes the best one, so it takes seconds)::

        model = train("leads.csv", target="converted", out="model/")
        model.score_leads(new_leads).head()
    """
    settings = settings or Settings()
    board: Leaderboard = compare(
        data, roles=roles, settings=settings, models=[model] if model else models,
        sort=sort, cv=cv, console=console, show_progress=show_progress, keep_models=True,
        warm_mlflow=settings.tracking if track is None else track,
        budget=0 if params else settings.tuning_budget if budget is None else budget,
        weighted=weighted, **role_overrides,
    )  # fmt: skip
    if console is not None and len(board.table) > 1:
        board.render(console)
    if leaderboard_out is not None:
        board.write(leaderboard_out)
    table = board.lead_table
    chosen = model or board.best
    oof, fold_models = board.results[chosen].oof, board.results[chosen].models
    folds = board.folds
    if board.full_table is not None or params:
        # The leaderboard ran on a sample, or with other settings: cross-validate the
        # chosen model on everything with its own.
        table = board.full_table if board.full_table is not None else table
        assert table.y is not None
        (candidate,) = get_families([chosen])
        order = validation_order(table, board.row_order)
        n_splits = fold_count(table.n_rows, cv or settings.cv_folds)
        folds = make_folds(table.y, order, n_splits, 1, settings.random_state)
        result = cross_validate(
            table.features, table.y, [candidate], folds=folds, plan=plan_columns(
                table.features, table.kinds, reference_time=table.roles.time),
            profile=DataProfile(table.n_rows, int(table.y.sum())),
            seed=settings.random_state, n_jobs=settings.n_jobs, keep_models=True,
            params={chosen: params} if params else board.params,
            sample_weight=table_weights(table) if weighted else None,
        )[chosen]  # fmt: skip
        oof, fold_models = result.oof, result.models
    lead_model = LeadModel(
        model=chosen,
        business=settings.business,
        segments=settings.segments,
        cv=fold_count(table.n_rows, cv or settings.cv_folds),
        random_state=settings.random_state,
        params=params or board.params.get(chosen),
    )
    lead_model.fit(
        table.features,
        table.y,
        time_column=table.roles.time,
        kinds=table.kinds,
        oof=oof,
        fold_models=fold_models,
        id_column=table.roles.id,
        missing_values=settings.missing_values,
        forward=board.row_order is not None and board.row_order.ordered,
        sample_weight=table_weights(table) if weighted else None,
        info={
            "roles": table.roles.model_dump(),
            "excluded": table.excluded,
            "leakage_suspects": [s.__dict__ for s in board.suspects],
            "selection": board.selection_note if not model else f"chosen by you: {model}",
            "validation": board.validation,
            "tuning": [t.to_dict() for t in board.tuning.values()],
            "leaderboard": board.table.to_dict(orient="records"),
            "notes": table.notes,
            **_described(
                settings.leakage.dictionary if dictionary is None else dictionary,
                table.features.columns,
            ),
        },
    )
    if fold_models:
        lead_model.importance_ = permutation_importance(
            fold_models, folds, table.features, table.y, seed=settings.random_state
        )
    # What moves the score, on a sample of the training leads: dashboards show it at once
    # instead of explaining thousands of leads on their first visit.
    from leadscore.explain.drivers import explain_sample, global_drivers

    _, explained = explain_sample(
        lead_model, table.features, sample=DRIVER_SAMPLE, seed=settings.random_state
    )
    lead_model.drivers_ = global_drivers(explained)
    if features_of is None and isinstance(data, (str, Path)):
        features_of = data
    if features_of is not None:
        builder = builder_for_table(Path(features_of))
        if builder is not None:
            # Scoring from raw events then uses exactly the features trained on.
            lead_model.feature_builder_ = builder
            lead_model.metadata_["features_from_events"] = True
            lead_model.metadata_["field_sources"] = field_sources(Path(features_of), lead_model)
    if out is not None:
        save_model(lead_model, out)
    if settings.tracking if track is None else track:
        _register(lead_model, board, out, data, settings)
    return lead_model


def _described(
    source: str | Path | Mapping[str, Mapping[str, Any]] | None, columns: Iterable[str]
) -> dict[str, Any]:
    """The ``dictionary`` metadata entry: what a data dictionary says of the inputs."""
    if source is None:
        return {}
    inputs = [str(c) for c in columns]
    if isinstance(source, Mapping):
        fields = {c: dict(source[c]) for c in inputs if c in source}
        name = "an earlier model"
    else:
        fields = entries_for(read_data_dictionary(source), inputs)
        name = Path(source).name
    return {"dictionary": {"source": name, "fields": fields}}


def _register(
    model: LeadModel, board: Leaderboard, out: str | Path | None, data: object, settings: Settings
) -> None:
    """Record the training run and register the model (champion if there is none yet)."""
    from leadscore.lifecycle.registry import Registry

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(out) if out is not None else save_model(model, Path(tmp) / "model")
        run_id, version = Registry(settings).log_training(
            model, board, model_dir, source=source_name(data)
        )
    model.mlflow_run_id_, model.registered_version_ = run_id, version


def builder_for_table(table_path: Path) -> LeadFeatureBuilder | None:
    """The feature builder ``leadscore features`` saved beside a lead table, if any."""
    side = sidecar_path(table_path)
    if not side.is_file():
        return None
    name = json.loads(side.read_text()).get("builder")
    if not name:
        return None
    return load_builder(side.parent / name)


def field_sources(table_path: Path, model: LeadModel) -> dict[str, list[str]]:
    """Which of the model's inputs come from the CRM and which from events, as
    ``leadscore features`` described the table (inputs the model dropped left out)."""
    sources = json.loads(sidecar_path(table_path).read_text()).get("sources") or {}
    inputs = set(model.schema_.names)
    return {
        origin: [name for name in sources.get(origin, []) if name in inputs]
        for origin in ("crm", "events")
    }
