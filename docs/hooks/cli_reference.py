"""MkDocs hook: the command-line reference, generated from the Typer app at build time.

``docs/reference/cli.md`` holds the marker ``<!-- cli-reference -->``; this hook replaces
it with every command of ``leadscore.cli:app`` (groups and their subcommands, in the order
``leadscore --help`` lists them): its help text, its usage line and a table of its
arguments and options with their types, defaults and help — what ``leadscore COMMAND
--help`` prints, read from the same objects, so the page cannot go stale.

Registered in ``mkdocs.yml`` (``hooks:``). Example: ``mkdocs build --strict``.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Iterator
from typing import Any

MARKER = "<!-- cli-reference -->"
PROGRAM = "leadscore"


def text(value: str) -> str:
    """Help text as Markdown that shows it as written (no stray emphasis or tags).

    Parameters
    ----------
    value:
        A command's or an option's help.
    """
    return html.escape(value, quote=False).replace("*", "\\*").replace("|", "\\|")


def commands(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    """Every command and group below ``command``, depth first, in declaration order."""
    for name, sub in command.commands.items():
        if getattr(sub, "hidden", False):
            continue
        yield [*path, name], sub
        if hasattr(sub, "commands"):
            yield from commands(sub, [*path, name])


def context_for(root: Any, path: list[str]) -> Any:
    """The click context of the command at ``path`` (its parents' contexts above it)."""
    from typer._click.core import Context

    ctx = Context(root, info_name=PROGRAM)
    command = root
    for name in path:
        command = command.commands[name]
        ctx = Context(command, info_name=name, parent=ctx)
    return ctx


def usage(ctx: Any) -> str:
    """``leadscore train [OPTIONS] DATA``: the command's usage line."""
    pieces = []
    for param in ctx.command.get_params(ctx):
        if param.param_type_name != "argument":
            continue
        name = param.name.upper() + ("..." if param.nargs == -1 else "")
        pieces.append(name if param.required else f"[{name}]")
    more = " COMMAND" if hasattr(ctx.command, "commands") else ""
    return f"{ctx.command_path} [OPTIONS]{more} {' '.join(pieces)}".rstrip()


def parameter_rows(ctx: Any) -> list[str]:
    """Table rows: each argument and option with its help (``--help`` left out)."""
    rows = []
    for param in ctx.command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None or param.name == "help":
            continue
        names, help_text = record
        if param.param_type_name == "argument":
            kind = names.split(" ", 1)[1] if " " in names else ""
            names = f"{param.name.upper()} {kind}".strip()
        rows.append(f"| `{names}` | {text(help_text)} |")
    return rows


def cli_reference() -> str:
    """The Markdown of every command of the ``leadscore`` app."""
    import typer

    from leadscore.cli import app

    root = typer.main.get_command(app)
    parts = [text(inspect.cleandoc(root.help or "")), ""]
    for path, command in commands(root, []):
        ctx = context_for(root, path)
        level = "#" * (len(path) + 1)
        parts += [f"{level} {PROGRAM} {' '.join(path)}", ""]
        if command.help:
            parts += [text(inspect.cleandoc(command.help)), ""]
        parts += ["```text", usage(ctx), "```", ""]
        rows = parameter_rows(ctx)
        if rows:
            parts += ["| argument or option | what it does |", "| --- | --- |", *rows, ""]
        if hasattr(command, "commands"):
            names = ", ".join(f"`{name}`" for name in command.commands)
            parts += [f"Commands: {names}.", ""]
    return "\n".join(parts)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Fill the marker of the command-line page (MkDocs event)."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, cli_reference())
