"""The numbers of the conversion insights: tables, findings, the ideal customer, segments.

:func:`compute_insights` gathers what marketing and sales act on from labelled leads and a
model: conversion by level and range of every model input (with 95 % Wilson intervals),
the fields ranked by how well they separate converting leads, plain-language findings, the
ideal customer and how hot / warm / cold leads differ from it (all of it, and the handful of
fields that separate hot from cold leads). :func:`insights_json` is the
same as plain JSON, and :func:`load_for_insights` prepares a labelled file the way the model
was trained. The page, its charts and the files of ``leadscore insights`` are drawn from
these numbers by :mod:`leadscore.reporting.insights`.

Example
-------
>>> _, table = load_for_insights(model, leads)
>>> compute_insights(model, table)["findings"][0]
'“Time on site: 11–67 min” converts best at 42.1 % (5.1× the average; 12.7 % of leads).'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadscore.config import Roles, Settings
from leadscore.data.columns import missing_column_error
from leadscore.data.lead_table import LeadTable, prepare_table
from leadscore.data.sources import read_table
from leadscore.errors import DataError, SchemaError
from leadscore.explain.conversion import conversion_tables
from leadscore.explain.findings import findings, rank_fields
from leadscore.explain.ideal import ideal_comparison, ideal_profile, segment_profiles
from leadscore.jsonutil import jsonable
from leadscore.modeling.model import LeadModel
from leadscore.scoring.field_facts import phrasebook

# ----------------------------------------------------------------------------- numbers


def _model_inputs(model: LeadModel, table: LeadTable) -> tuple[pd.DataFrame, dict[str, str]]:
    """The model's input columns of the table and their kinds (the table's, else the model's)."""
    names = model.schema_.names
    missing = [c for c in names if c not in table.features.columns]
    if missing:
        raise SchemaError(
            missing_column_error(missing, list(table.features.columns), "model input")
        )
    schema_kinds = {spec.name: spec.kind for spec in model.schema_.columns}
    kinds = {c: str(table.kinds.get(c, schema_kinds[c])) for c in names}
    return table.features[names], kinds


def compute_insights(model: LeadModel, table: LeadTable) -> dict[str, Any]:
    """Every number of the insights: tables, findings, ideal profile, segment profiles.

    Parameters
    ----------
    model:
        A fitted :class:`LeadModel`.
    table:
        Labelled leads with the model's input columns (see :func:`load_for_insights`).

    Returns
    -------
    dict
        ``overall_rate``, ``leads``, ``converted``, ``tables`` (name → conversion table),
        ``ranked`` (table names, most informative first), ``findings``, ``ideal_profile``,
        ``segment_profiles``, ``ideal_comparison`` (the fields that separate hot from cold
        leads, see :func:`~leadscore.explain.ideal.ideal_comparison`), ``segments`` (leads
        per segment) and ``scored`` (what ``model.score`` returned).

    Example
    -------
    >>> _, table = load_for_insights(model, leads)
    >>> numbers = compute_insights(model, table)
    >>> numbers["leads"], numbers["converted"], numbers["ranked"][:3]
    (300, 25, ['time_on_site_s', 'visits', 'returned_same_day'])
    """
    if table.y is None:
        raise DataError("insights need labelled leads: the table has no outcome column")
    features, kinds = _model_inputs(model, table)
    y = np.asarray(table.y, dtype=np.int64)
    overall = float(y.mean())
    scored = model.score_leads(features)
    tables = conversion_tables(features, y, kinds)
    ideal = ideal_profile(features, y, scored["score"].to_numpy(), kinds)
    segments = scored["segment"].astype(str)
    book = phrasebook(model)
    profiles = segment_profiles(features, segments, ideal, kinds)
    return {
        "leads": len(y),
        "converted": int(y.sum()),
        "overall_rate": overall,
        "tables": tables,
        "ranked": rank_fields(tables, overall),
        "findings": findings(tables, overall, book=book),
        "ideal_profile": ideal,
        "segment_profiles": profiles,
        "ideal_comparison": ideal_comparison(profiles, book),
        "segments": {str(k): int(v) for k, v in segments.value_counts(sort=False).items()},
        "scored": scored,
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {str(k): (None if v is None or (isinstance(v, float) and np.isnan(v)) else v)
         for k, v in row.items()}
        for row in frame.astype(object).to_dict(orient="records")
    ]  # fmt: skip


def insights_json(
    model: LeadModel,
    numbers: Mapping[str, Any],
    figures: Mapping[str, str],
    drivers: pd.DataFrame | None,
) -> dict[str, Any]:
    """The content of ``insights.json`` (plain JSON types; NaN as ``null``).

    ``numbers`` is what :func:`compute_insights` returns, ``figures`` each figure id's PNG
    file name, ``drivers`` the global drivers (or ``None``).

    Example
    -------
    >>> import json
    >>> _, table = load_for_insights(model, leads)
    >>> content = insights_json(model, compute_insights(model, table), {}, None)
    >>> sorted(content)  # doctest: +NORMALIZE_WHITESPACE
    ['conversion_tables', 'converted', 'drivers', 'fields_ranked', 'figures', 'findings',
     'ideal_comparison', 'ideal_profile', 'leads', 'model', 'overall_rate',
     'segment_profiles', 'segments', 'table_kinds']
    >>> len(json.dumps(content, allow_nan=False)) > 1000
    True
    """
    tables = numbers["tables"]
    return jsonable(
        {
            "model": model.metadata_.get("model_label") or model.metadata_.get("model"),
            "leads": numbers["leads"],
            "converted": numbers["converted"],
            "overall_rate": numbers["overall_rate"],
            "segments": numbers["segments"],
            "findings": list(numbers["findings"]),
            "fields_ranked": list(numbers["ranked"]),
            "table_kinds": {name: t.attrs.get("kind") for name, t in tables.items()},
            "conversion_tables": {name: _records(t) for name, t in tables.items()},
            "ideal_profile": dict(numbers["ideal_profile"]),
            "segment_profiles": _records(numbers["segment_profiles"]),
            "ideal_comparison": _records(numbers.get("ideal_comparison", pd.DataFrame())),
            "drivers": None if drivers is None else _records(drivers),
            "figures": dict(figures),
        }
    )


def load_for_insights(
    model_dir_or_model: str | Path | LeadModel,
    data_path: str | Path | pd.DataFrame,
    *,
    settings: Settings | None = None,
) -> tuple[LeadModel, LeadTable]:
    """A model and its labelled leads, prepared the way the model was trained.

    The table is read with :func:`prepare_table` and the model's own roles
    (``metadata_["roles"]``), so the id and target columns match; the model's input
    columns are kept even when constant in this data, other columns are set apart, and
    types are conformed to the model's schema.

    Parameters
    ----------
    model_dir_or_model:
        A saved model directory or a fitted :class:`LeadModel`.
    data_path:
        CSV / Parquet file (or DataFrame) of labelled leads.
    settings:
        Project settings; default: ``Settings()`` with the model's placeholder values.

    Raises
    ------
    SchemaError
        When a model input, the target or another role column is missing.

    Example
    -------
    >>> _ = model.save("model/")
    >>> leads.to_csv("leads.csv", index=False)
    >>> model, table = load_for_insights("model/", "leads.csv")
    >>> table.features.columns.tolist() == model.schema_.names, int(table.y.sum())
    (True, 25)
    """
    model = (
        model_dir_or_model
        if isinstance(model_dir_or_model, LeadModel)
        else LeadModel.load(model_dir_or_model)
    )
    if settings is None:
        settings = Settings(
            missing_values=model.schema_.missing_values or Settings().missing_values
        )
    saved = model.metadata_.get("roles")
    roles = (
        Roles(**saved)
        if isinstance(saved, dict)
        else Roles(id=model.id_column_, time=model.time_column_)
    )
    frame = read_table(data_path).copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    inputs = model.schema_.names
    missing = [c for c in inputs if c not in frame.columns]
    if missing:
        raise SchemaError(missing_column_error(missing, list(frame.columns), "model input"))
    roles = roles.model_copy(
        update={
            "exclude": [c for c in roles.exclude if c in frame.columns and c not in inputs],
            "keep": list(dict.fromkeys([*roles.keep, *inputs])),
        }
    )
    table = prepare_table(frame, roles, settings)
    table = table.without({c: "not a model input" for c in table.features if c not in inputs})
    features = model.schema_.conform(table.features)
    kinds = {spec.name: spec.kind for spec in model.schema_.columns}
    return model, dataclasses.replace(table, features=features, kinds=kinds)


__all__ = ["compute_insights", "insights_json", "load_for_insights"]
