"""MkDocs hook: the settings reference, generated from the settings model at build time.

``docs/reference/settings.md`` holds the marker ``<!-- settings-reference -->``; this hook
replaces it with one table per section of :class:`leadscore.config.Settings` (every field:
its ``leadscore.toml`` key, environment variable, type, default, bounds and description),
read from the code itself, so the page cannot go stale. A field's description is its
``#:`` comment in the source (or its pydantic ``description``); a section's is its class
docstring. A page holding the marker that this hook cannot fill fails the build.

Registered in ``mkdocs.yml`` (``hooks:``). Example: ``mkdocs build --strict``.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import textwrap
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

MARKER = "<!-- settings-reference -->"
ENV_PREFIX = "LEADSCORE_"

#: what a field does, for the fields whose source has no ``#:`` comment (a comment added
#: in the source wins); a key naming no field fails the build, so none outlives its field
FALLBACK: dict[str, str] = {
    "missing_values": 'placeholders that mean "not chosen"; they become missing',
    "positive_labels": "outcome spellings read as converted (compared without case)",
    "negative_labels": "outcome spellings read as not converted (compared without case)",
    "random_state": "seed of the folds, the models and the samples: the same data gives the "
    "same model",
    "experiment": "the MLflow experiment runs are recorded under",
    "roles.target": "the outcome column (`--target`); found by name (converted, won, target, "
    "…) when not set",
    "roles.id": "the lead id column (`--id`); a column unique per row when not set",
    "roles.time": "when each lead was created (`--time`): validation then trains on the past "
    "and validates on the most recent leads",
    "roles.exclude": "columns left out of the model (`--exclude`, repeatable)",
    "roles.keep": "columns kept although the audit suspects leakage (`--keep`, repeatable)",
    "business.value_per_conversion": "revenue of one conversion (`--value-per-conversion`)",
    "business.cost_per_contact": "cost of one contact (`--cost-per-contact`)",
    "business.missed_conversion_cost": "cost of not contacting a lead that converts "
    "(`--missed-conversion-cost`)",
    "business.capacity": "contact only this many of the best leads of each scored batch "
    "(`--capacity`; the live quota is `[capacity] per_period`)",
    "segments.hot_share": "hot = this share of the best-scored leads, if worth a call",
    "segments.hot_cutoff": "a fixed probability from which a lead is hot (instead of `hot_share`)",
    "segments.warm_cutoff": "a fixed probability from which a lead is warm (instead of the "
    "contact threshold)",
    "s3.region": "the bucket's region; `None` → boto3's default",
    "s3.access_key_id": "access key; `None` → the usual `AWS_*` variables and `~/.aws`",
    "s3.secret_access_key": "its secret (masked wherever it is shown)",
    "s3.session_token": "a temporary session token (masked wherever it is shown)",
    "s3.connect_timeout": "seconds to connect before a request is retried",
    "mixpanel.project_id": "the Mixpanel project (with a service account)",
    "mixpanel.secret": "the service account's secret (masked wherever it is shown)",
    "mixpanel.host": "export host; `https://data-eu.mixpanel.com` for EU residency",
    "mixpanel.retry_max_delay": "the longest wait between two retries (seconds)",
    "service.host": "address `leadscore serve` binds (`--host`)",
    "service.port": "port `leadscore serve` listens on (`--port`)",
    "webhooks.base_delay_s": "wait after the first failed send (seconds); doubled after each",
    "webhooks.max_delay_s": "the longest wait between two sends (seconds)",
}


def attribute_docs(model: type[BaseModel]) -> dict[str, tuple[str, str]]:
    """Field name → (its annotation as written, its ``#:`` comment) from the class source.

    Parameters
    ----------
    model:
        A pydantic model class defined in a source file.
    """
    source = textwrap.dedent(inspect.getsource(model))
    lines = source.splitlines()
    (cls,) = [node for node in ast.parse(source).body if isinstance(node, ast.ClassDef)]
    out: dict[str, tuple[str, str]] = {}
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        comment: list[str] = []
        row = node.lineno - 2  # the line above the field (lineno is 1-based)
        while row >= 0 and lines[row].strip().startswith("#:"):
            comment.insert(0, lines[row].strip()[2:].strip())
            row -= 1
        out[node.target.id] = (ast.unparse(node.annotation), " ".join(comment))
    return out


def toml_value(value: Any) -> str:
    """A default as it would be written in ``leadscore.toml``.

    Parameters
    ----------
    value:
        The field's default.
    """
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, SecretStr):
        return "`***`"
    if isinstance(value, int | float):
        return f"`{value:g}`" if isinstance(value, float) else f"`{value}`"
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, list | tuple):
        return f"`{json.dumps([str(v) for v in value], ensure_ascii=False)}`"
    return f"`{json.dumps(str(value), ensure_ascii=False)}`"


def bounds(field: FieldInfo) -> str:
    """The field's numeric bounds (``≥ 1, ≤ 65535``), from its pydantic metadata."""
    signs = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "min_length": "length ≥"}
    out = []
    for item in field.metadata:
        for name, sign in signs.items():
            limit = getattr(item, name, None)
            if limit is not None:
                out.append(f"{sign} {limit:g}" if isinstance(limit, float) else f"{sign} {limit}")
    return ", ".join(out)


#: Sphinx cross-references (``:mod:`leadscore.x` ``) in docstrings and comments
ROLE = re.compile(r":(?:mod|class|func|meth|attr|data):`~?([^`]+)`")


def plain(text: str) -> str:
    """Docstring text as Markdown: Sphinx roles become code spans.

    Parameters
    ----------
    text:
        A docstring or a ``#:`` comment.
    """
    return ROLE.sub(r"`\1`", text)


def cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell: pipes outside code spans escaped
    (inside one, a pipe splits no cell and a backslash would show).

    Parameters
    ----------
    text:
        Markdown of one cell.
    """
    pieces = plain(text).replace("\n", " ").split("`")
    # the even pieces lie outside code spans
    return "`".join(p.replace("|", "\\|") if i % 2 == 0 else p for i, p in enumerate(pieces))


def is_section(field: FieldInfo) -> bool:
    """Whether the field is a nested settings model (a ``[section]`` of its own)."""
    annotation = field.annotation
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)


def field_rows(model: type[BaseModel], path: list[str]) -> list[str]:
    """The table rows of ``model``'s plain (non-section) fields, under TOML ``path``."""
    docs = attribute_docs(model)
    rows = []
    for name, field in model.model_fields.items():
        if is_section(field):
            continue
        written, comment = docs.get(name, ("", ""))
        key = ".".join([*path, name])
        description = field.description or comment or FALLBACK.get(key, "")
        default = field.get_default(call_default_factory=True)
        limits = bounds(field)
        env = ENV_PREFIX + "__".join([*path, name]).upper()
        kind = cell(f"`{written or field.annotation}`")
        default_text = f"default {cell(toml_value(default))}"
        rows.append(
            f"| `{name}`<br>`{env}` | {kind}<br>{default_text}"
            f"{'<br>' + cell(limits) if limits else ''} | {cell(description)} |"
        )
    return rows


TABLE_HEAD = [
    "| key and environment variable | type, default, bounds | what it does |",
    "| --- | --- | --- |",
]


def field_keys(model: type[BaseModel], path: list[str]) -> set[str]:
    """Every field's dotted key (``service.port``), sections included."""
    keys = set()
    for name, field in model.model_fields.items():
        keys.add(".".join([*path, name]))
        if is_section(field):
            assert field.annotation is not None
            keys |= field_keys(field.annotation, [*path, name])
    return keys


def settings_reference() -> str:
    """The Markdown of every settings section, in the order the model declares them."""
    from leadscore.config.settings import Settings

    stale = set(FALLBACK) - field_keys(Settings, [])
    if stale:
        raise ValueError(f"descriptions of settings that no longer exist: {sorted(stale)}")

    docs = attribute_docs(Settings)
    parts = [
        "## Top level",
        "",
        "Keys written at the top of `leadscore.toml`, before any `[section]`.",
        "",
        *TABLE_HEAD,
        *field_rows(Settings, []),
        "",
    ]
    for name, field in Settings.model_fields.items():
        if not is_section(field):
            continue
        section = field.annotation
        assert section is not None
        intro = inspect.cleandoc(section.__doc__ or "").split("\n\nExample")[0]
        comment = docs.get(name, ("", ""))[1]
        parts += [f"## `[{name}]`", ""]
        if comment:
            parts += [plain(comment)[0].upper() + plain(comment)[1:] + ".", ""]
        if intro and intro != inspect.cleandoc(BaseModel.__doc__ or ""):
            parts += [plain(intro), ""]
        parts += [*TABLE_HEAD, *field_rows(section, [name]), ""]
    return "\n".join(parts)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Fill the marker of the settings page (MkDocs event)."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, settings_reference())
