"""A lead's attributes checked against the serving model's input schema.

Built from the model's :class:`~leadscore.data.input_schema.InputSchema` whenever a model is
loaded: numbers must be numbers, dates dates, categories text; every input field must be
present (``null`` means unknown) and no other field is allowed. Numbers must be finite
(``NaN``, ``Infinity``, ``"inf"``, ``1e400`` are refused: a model would score them 1.0, hot);
text may hold tab, newline and carriage return but no other control character
(:data:`~leadscore.service.bad_input.TEXT`: a CRM's text field may span lines; a NUL cannot
be stored in PostgreSQL). Errors are FastAPI's 422 shape with the field named in ``loc``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model

from leadscore.data.input_schema import InputSchema
from leadscore.service.bad_input import TEXT


def _category(value: Any) -> Any:
    # CRMs send codes as numbers ("company size 50"); the model saw them as text
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


Category = Annotated[
    Annotated[str, Field(max_length=1000, pattern=TEXT)] | None, BeforeValidator(_category)
]
_TYPES: dict[str, Any] = {"numeric": float | None, "datetime": datetime | None}


def attributes_model(schema: InputSchema) -> type[BaseModel]:
    """A pydantic model with one required, nullable field per model input.

    Example
    -------
    >>> Attributes = attributes_model(model.schema_)
    >>> row = dict.fromkeys(model.schema_.names) | {"source": "google", "visits": "3"}
    >>> fields = Attributes.model_validate(row).model_dump(by_alias=True)
    >>> fields["source"], fields["visits"]
    ('google', 3.0)
    """
    fields: dict[str, Any] = {}
    for i, spec in enumerate(schema.columns):
        kind = _TYPES.get(spec.kind, Category)
        fields[f"field_{i}"] = (kind, Field(..., alias=spec.name))
    return create_model(  # type: ignore[call-overload, no-any-return]
        "LeadAttributes",
        __config__=ConfigDict(extra="forbid", populate_by_name=False, allow_inf_nan=False),
        **fields,
    )


def check_attributes(
    model: type[BaseModel], attributes: Mapping[str, Any], where: Sequence[str | int]
) -> dict[str, Any]:
    """Validated attributes keyed by input name; 422 naming each field at fault."""
    try:
        return model.model_validate(dict(attributes)).model_dump(mode="json", by_alias=True)
    except ValidationError as exc:
        errors = []
        for error in exc.errors(include_url=False):
            loc = (*where, *error["loc"])
            message = error["msg"]
            if error["type"] == "missing":
                message = "Field required (send null when it is unknown)"
            elif error["type"] == "extra_forbidden":
                message = "Not an input of the serving model"
            errors.append({**error, "loc": loc, "msg": message})
        raise RequestValidationError(errors) from None


def check_display(
    model: type[BaseModel], display: Mapping[str, str | None], where: Sequence[str | int]
) -> dict[str, str | None]:
    """Display fields (who the lead is) that are not the serving model's inputs: one of
    those belongs in ``attributes``, where it is checked and scored; 422 naming each."""
    inputs = set(_names(model))
    errors = [
        {
            "type": "value_error",
            "loc": (*where, name),
            "msg": "An input of the serving model: send it in attributes, not display",
            "input": value,
        }
        for name, value in display.items()
        if name in inputs
    ]
    if errors:
        raise RequestValidationError(errors)
    return dict(display)


def check_some_attributes(
    model: type[BaseModel], attributes: Mapping[str, Any], where: Sequence[str | int]
) -> dict[str, Any]:
    """Some of the serving model's inputs (an update): each checked as
    :func:`check_attributes` checks it; the others are not required. Returns only the
    fields given; 422 naming each field at fault (an unknown one too)."""
    full = dict.fromkeys(_names(model)) | dict(attributes)
    checked = check_attributes(model, full, where)
    return {name: checked[name] for name in attributes}


def _names(model: type[BaseModel]) -> list[str]:
    return [str(field.alias) for field in model.model_fields.values()]
