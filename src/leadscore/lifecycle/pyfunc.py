"""A leadscore model as an MLflow ``pyfunc``, usable by any MLflow-aware tool.

``mlflow.pyfunc.load_model("models:/leadscore@champion").predict(frame)`` returns the
same table as :meth:`LeadModel.score`: id, score (0–1), score_100, segment, rank, contact.
The model folder travels as an MLflow artifact and leadscore's code with it
(``code_paths``), so loading needs only the libraries in the model's requirements.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mlflow.pyfunc
import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.types.schema import AnyType, ColSpec, Schema

if TYPE_CHECKING:
    from leadscore.modeling.model import LeadModel


class LeadScorePyfunc(mlflow.pyfunc.PythonModel):
    """MLflow wrapper around a saved :class:`LeadModel` folder (artifact ``lead_model``)."""

    def load_context(self, context: Any) -> None:
        from leadscore.modeling.model import LeadModel

        self.model = LeadModel.load(context.artifacts["lead_model"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return self.model.score_leads(frame)


def signature_of(model: LeadModel, example: pd.DataFrame) -> ModelSignature:
    """Inputs named but loosely typed: the model checks and converts them itself, with
    messages that name the column (MLflow's strict types would refuse "2026-01-05" for a
    date column, or an integer for a number)."""
    names = [spec.name for spec in model.schema_.columns]
    if model.id_column_ and model.id_column_ not in names:
        names.insert(0, model.id_column_)  # passed through, so scores keep the lead's id
    inputs = Schema([ColSpec(AnyType(), name, required=False) for name in names])
    outputs = infer_signature(example, model.score_leads(example)).outputs
    return ModelSignature(inputs=inputs, outputs=outputs)


def example_input(model: LeadModel, rows: int = 3) -> pd.DataFrame:
    """A few representative input rows (most common category, median number, a date)."""
    columns: dict[str, list[Any]] = {}
    for spec in model.schema_.columns:
        if spec.kind == "categorical":
            value: Any = spec.categories[0] if spec.categories else "unknown"
        elif spec.kind == "datetime":
            value = pd.Timestamp("2026-01-05 10:00:00")
        else:
            value = 1.0
        columns[spec.name] = [value] * rows
    return pd.DataFrame(columns)
