"""What the API refuses of hostile input, and how it says so: always 4xx JSON, never 500.

* **Control characters.** Ids and short codes (lead ids, event names, UTM values,
  property names, URLs …) take none: C0 (NUL to U+001F), DEL and C1 (U+0080–U+009F).
  Free text (attribute values, page titles, user agents, property values) may hold tab,
  newline and carriage return — a CRM's text field or a form's message legitimately does —
  but no other C0 control nor DEL, and never NUL, which PostgreSQL cannot store in text
  (today it answers 500 there) and which truncates strings in C libraries and logs. C1
  characters stay allowed in free text: they are what mis-decoded Windows-1252 text is made
  of, harmless to the store, and refusing the event for it would lose the rest. The rules
  are regular expressions (:data:`NO_CONTROLS`, :data:`TEXT`, :data:`LEAD_ID`) checked
  by pydantic-core itself and shown in the OpenAPI document; :func:`validation_failed`
  turns pydantic's "should match pattern '…'" into words.
* **Non-finite numbers.** ``NaN``, ``Infinity`` and ``1e400`` (which Python's JSON reader
  turns into infinity) are refused by ``allow_inf_nan=False`` on every request model;
  strings such as ``"inf"`` in a number field too. Pydantic echoes the offending input in
  its error, and a non-finite float cannot be written as JSON: :func:`validation_failed`
  writes it as the token the client sent (``"Infinity"``).
* **Deep nesting.** A body nested beyond Python's recursion limit fails in FastAPI's JSON
  reading (answered 400 by :func:`body_unreadable` with a clear detail); one nested just
  below it is read, refused by validation, and used to fail as its error was written back
  (the echoed input is as deep as the body): :func:`validation_failed` echoes at most
  :data:`ECHO_DEPTH` levels of an input.
"""

from __future__ import annotations

import math
import re
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic_core import PydanticCustomError
from starlette.exceptions import HTTPException

#: ids and short codes: no C0 control, DEL or C1 control anywhere
NO_CONTROLS = r"^[^\x00-\x1f\x7f-\x9f]*$"
#: free text: tab, newline and carriage return allowed; no other C0 control, no DEL
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
#: a lead id: no control character, no ``/ ? #`` (it is a path segment of
#: ``/v1/leads/{id}``), not starting with white space
LEAD_ID = r"^[^\s/?#\x00-\x1f\x7f-\x9f][^/?#\x00-\x1f\x7f-\x9f]*$"

#: one character :data:`TEXT` refuses
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MESSAGES = {
    NO_CONTROLS: "Control characters are not allowed here",
    TEXT: "Control characters other than tab, newline and carriage return are not allowed",
    LEAD_ID: "A lead id has no control characters and no / ? #, and does not start with "
    "white space",
}
_TOKENS = {math.inf: "Infinity", -math.inf: "-Infinity"}

#: levels of a refused input echoed in a 422 (deeper levels are elided)
ECHO_DEPTH = 8


def check_text(value: Any) -> Any:
    """A free-text value as it is, or refused (control character, non-finite number).

    For a field that takes several types (an event's custom property), where a pattern or
    ``allow_inf_nan`` would report one error per type; used as a ``BeforeValidator``.

    Example
    -------
    >>> check_text("line one\\nline two")
    'line one\\nline two'
    >>> check_text(float("inf"))
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.PydanticCustomError: Input should be a finite number
    """
    if isinstance(value, str):
        if _TEXT_CONTROL.search(value) is not None:
            raise PydanticCustomError("control_character", _MESSAGES[TEXT])
    elif isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("finite_number", "Input should be a finite number")
    return value


def _echo(value: Any, depth: int = 0) -> Any:
    """An input as JSON can hold it: non-finite floats as their tokens, containers cut at
    :data:`ECHO_DEPTH` levels."""
    if isinstance(value, float) and not math.isfinite(value):
        return _TOKENS.get(value, "NaN")
    if isinstance(value, dict | list | tuple):
        if depth >= ECHO_DEPTH:
            return "…"
        if isinstance(value, dict):
            return {str(k): _echo(v, depth + 1) for k, v in value.items()}
        return [_echo(v, depth + 1) for v in value]
    return value


def _error(error: dict[str, Any]) -> dict[str, Any]:
    out = dict(error)
    if "input" in out:
        out["input"] = _echo(out["input"])
    ctx = out.get("ctx")
    if out.get("type") == "string_pattern_mismatch" and ctx and ctx.get("pattern") in _MESSAGES:
        out["msg"] = _MESSAGES[ctx["pattern"]]
    return out


async def validation_failed(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 (``{"detail": [{"type", "loc", "msg", "input", …}]}``) for any input,
    however deep or non-finite, with the control-character rules in words."""
    assert isinstance(exc, RequestValidationError)
    detail = [_error(e) for e in exc.errors()]
    try:
        return JSONResponse(
            {"detail": jsonable_encoder(detail)}, status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    except (RecursionError, ValueError, TypeError):  # an input still unwritable: drop them
        bare = [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in detail]
        return JSONResponse(
            {"detail": jsonable_encoder(bare)}, status.HTTP_422_UNPROCESSABLE_CONTENT
        )


async def body_unreadable(request: Request, exc: Exception) -> Response:
    """FastAPI's answer to an ``HTTPException``, with a clear detail for a body it could not
    read because it is nested too deeply (FastAPI says only "There was an error parsing
    the body")."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == status.HTTP_400_BAD_REQUEST and isinstance(exc.__cause__, RecursionError):
        return JSONResponse(
            {"detail": "request body nested too deeply to read: no request of this API "
             "nests its JSON more than a few levels"},
            status.HTTP_400_BAD_REQUEST,
        )  # fmt: skip
    return await http_exception_handler(request, exc)


def install(app: FastAPI) -> None:
    """Register :func:`validation_failed` and :func:`body_unreadable` on ``app``."""
    app.add_exception_handler(RequestValidationError, validation_failed)
    app.add_exception_handler(HTTPException, body_unreadable)
