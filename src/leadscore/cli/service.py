"""The scoring service: ``serve``, its API ``keys`` and ``webhooks``."""

from __future__ import annotations

import math
import os
import signal
import threading
from types import FrameType
from typing import Annotated

import typer
from rich.table import Table

from leadscore.cli.common import ConfigOpt, DatabaseOpt, handle_errors, open_store, out, resolve
from leadscore.errors import LeadscoreError


@handle_errors
def serve(
    model: Annotated[
        str | None,
        typer.Argument(help="Model to serve: champion (default), a version or a model folder."),
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="Default 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Default 8000.")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Server processes.")] = 1,
    database: DatabaseOpt = None,
    access_log: Annotated[
        bool | None,
        typer.Option(
            "--access-log/--no-access-log",
            help="A log line per request (default: service.access_log, off).",
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """The real-time scoring API (FastAPI + uvicorn); OpenAPI docs at /docs."""
    import uvicorn

    from leadscore.live import ModelSlot
    from leadscore.store import Store, mask

    # what the service's workers resolve too (leadscore.service.server), with these flags
    given = {"service.model": model, "service.host": host, "service.port": port,
             "service.access_log": access_log}  # fmt: skip
    settings = resolve(config, database, given).settings
    service = settings.service
    # Fail here, with a clear message, rather than inside the server's startup.
    slot = ModelSlot.load(service.model, settings)
    with Store(settings.database_url) as store:  # migrated now, not by each worker at once
        has_keys = bool(store.keys.all())
    out.print(
        f"serving model version [bold]{slot.current.version}[/] ({service.model}); scores "
        f"stored in {mask(settings.database_url)}"
    )
    out.print(
        f"API: http://{service.host}:{service.port}  docs: http://{service.host}:{service.port}/docs"
    )
    if not has_keys:
        out.print("[yellow]no API keys yet:[/] leadscore keys create NAME --scope score")
    os.environ["LEADSCORE_SERVICE__MODEL"] = service.model
    os.environ["LEADSCORE_DATABASE_URL"] = settings.database_url
    if config:
        os.environ["LEADSCORE_CONFIG"] = str(config)
    # On SIGTERM uvicorn stops accepting and lets the requests in progress finish, for up
    # to service.drain_s seconds (see leadscore.service.drain), then re-raises the signal:
    # this handler, instead of the default that kills the process, makes that an exit 0
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stopped) if main else None
    try:
        uvicorn.run(
            "leadscore.service.server:app", host=service.host, port=service.port,
            workers=workers, log_level="info", access_log=service.access_log,
            timeout_graceful_shutdown=math.ceil(service.drain_s),
        )  # fmt: skip
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def _stopped(signum: int, frame: FrameType | None) -> None:
    """SIGTERM outside uvicorn's own handler (before it starts, or re-raised once it has
    drained): a requested stop, exit status 0."""
    raise SystemExit(0)


keys_app = typer.Typer(help="API keys of the scoring service.")


@keys_app.command("create")
@handle_errors
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key, e.g. crm-sync.")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", help="score, ingest, read or admin (repeatable)."),
    ],
    database: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create a key; it is shown once (only its hash is stored)."""
    try:
        plaintext, record = open_store(config, database).keys.create(name, scope)
    except ValueError as exc:
        raise LeadscoreError(str(exc)) from None
    out.print(f"key {record.id} ({record.name}, scopes: {', '.join(record.scopes)}):")
    print(plaintext)
    out.print("[yellow]store it now: it cannot be shown again[/]")


@keys_app.command("list")
@handle_errors
def keys_list(database: DatabaseOpt = None, config: ConfigOpt = None) -> None:
    """Keys with their scopes and last use (never the keys themselves)."""
    table = Table(header_style="bold")
    for name in ("id", "name", "prefix", "scopes", "created", "last used", "revoked"):
        table.add_column(name)
    for k in open_store(config, database).keys.all():
        table.add_row(
            str(k.id), k.name, k.prefix + "…", ", ".join(k.scopes),
            f"{k.created_at:%Y-%m-%d %H:%M}",
            f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "",
            f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
        )  # fmt: skip
    out.print(table)


@keys_app.command("revoke")
@handle_errors
def keys_revoke(
    key: Annotated[str, typer.Argument(help="Key id or prefix.")],
    database: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Revoke a key: it stops working at once."""
    record = open_store(config, database).keys.revoke(int(key) if key.isdigit() else key)
    out.print(f"revoked key {record.id} ({record.name})")


hooks_app = typer.Typer(
    help="Webhooks: POST to your CRM when a lead turns hot or jumps (or moved: monitor notify)."
)


@hooks_app.command("add")
@handle_errors
def webhooks_add(
    url: Annotated[str, typer.Argument(help="Where to POST (http or https).")],
    secret: Annotated[
        str | None,
        typer.Option("--secret", help="Signing secret (default: LEADSCORE_WEBHOOK_SECRET)."),
    ] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            help="hot, jump and/or moved (default hot and jump; moved: the period's movers "
            "queued by `leadscore monitor notify`).",
        ),
    ] = None,
    min_jump: Annotated[
        int, typer.Option("--min-jump", help="Points a score must rise to count as a jump.")
    ] = 30,
    database: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Register a webhook; payloads are signed with HMAC-SHA256 of the secret. A host that
    is or resolves to a loopback, private or link-local address is refused unless
    webhooks.allow_private or webhooks.allow_list allows it."""
    from leadscore.cli.common import settings_with_database
    from leadscore.store import DEFAULT_WEBHOOK_KINDS, Store

    secret = secret or os.environ.get("LEADSCORE_WEBHOOK_SECRET")
    if not secret:
        raise LeadscoreError("a signing secret is needed: --secret or LEADSCORE_WEBHOOK_SECRET")
    settings = settings_with_database(config, database)  # its [webhooks] allow-list too
    store = Store(settings.database_url)
    store.webhooks.configure(settings.webhooks)
    try:
        hook = store.webhooks.add(
            url, secret, kinds=tuple(kind or DEFAULT_WEBHOOK_KINDS), min_jump=min_jump
        )
    except ValueError as exc:
        raise LeadscoreError(str(exc)) from None
    out.print(f"webhook {hook.id}: {hook.url} on {', '.join(hook.kinds)} (jump ≥ {hook.min_jump})")


@hooks_app.command("list")
@handle_errors
def webhooks_list(database: DatabaseOpt = None, config: ConfigOpt = None) -> None:
    """Active webhooks."""
    table = Table(header_style="bold")
    for name in ("id", "url", "kinds", "min jump", "created"):
        table.add_column(name)
    for h in open_store(config, database).webhooks.all():
        table.add_row(
            str(h.id), h.url, ", ".join(h.kinds), str(h.min_jump), f"{h.created_at:%Y-%m-%d %H:%M}"
        )
    out.print(table)


@hooks_app.command("remove")
@handle_errors
def webhooks_remove(
    webhook: Annotated[int, typer.Argument(help="Webhook id.")],
    database: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Stop calling a webhook (its delivery log is kept)."""
    hook = open_store(config, database).webhooks.remove(webhook)
    out.print(f"webhook {hook.id} ({hook.url}) removed")


@hooks_app.command("deliveries")
@handle_errors
def webhooks_deliveries(
    webhook: Annotated[int | None, typer.Option("--webhook", help="Only this webhook.")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 20,
    database: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The delivery log, newest first."""
    table = Table(header_style="bold")
    for name in (
        "id",
        "webhook",
        "lead",
        "event",
        "status",
        "attempts",
        "HTTP",
        "error",
        "created",
    ):
        table.add_column(name)
    for d in open_store(config, database).webhooks.deliveries(webhook_id=webhook, limit=limit):
        table.add_row(
            str(d.id), str(d.webhook_id), d.lead_id, d.kind, d.status, str(d.attempts),
            "" if d.last_status_code is None else str(d.last_status_code), d.last_error or "",
            f"{d.created_at:%Y-%m-%d %H:%M:%S}",
        )  # fmt: skip
    out.print(table)


@hooks_app.command("redeliver")
@handle_errors
def webhooks_redeliver(
    delivery: Annotated[
        list[int] | None, typer.Argument(help="Delivery ids (see: leadscore webhooks deliveries).")
    ] = None,
    webhook: Annotated[
        int | None, typer.Option("--webhook", help="Every failed delivery of this webhook…")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="…created since: 2025-03-01T10:00, or ago: 30m, 6h, 2d."),
    ] = None,
    database: DatabaseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Queue deliveries again (failed ones, or delivered ones a receiver lost): the
    service sends them at once, with a fresh run of retries."""
    from leadscore.webhooks.redelivery import parse_since

    if since is not None and webhook is None:
        raise LeadscoreError("--since goes with --webhook")
    queued = open_store(config, database).webhooks.redeliver(
        delivery or (), webhook_id=webhook, since=parse_since(since)
    )
    if not queued:
        out.print("nothing to redeliver")
    for d in queued:
        out.print(f"delivery {d.id} (webhook {d.webhook_id}, {d.lead_id}, {d.kind}) queued again")
