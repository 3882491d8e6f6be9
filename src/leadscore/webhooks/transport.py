"""The HTTP transport the dispatcher sends with: it connects only to addresses the
webhooks settings allow, checked at the moment of connecting.

Checking a URL once (when the webhook is added) is not enough: its name may resolve
somewhere else later — to 127.0.0.1 or a cloud metadata address (DNS rebinding). So the
transport resolves the host itself, refuses the connection
(:class:`~leadscore.store.egress.AddressRefused`, naming the address) when any address is
not allowed, and connects to an address it checked, never re-resolving in between. TLS
still verifies the certificate against the host name of the URL.

Redirects are not followed (a webhook URL that moved should be fixed), and no proxy from
the environment is used: the connection goes straight to the checked address.

Example
-------
>>> import httpx
>>> from leadscore.store.egress import AddressRefused, EgressPolicy
>>> client = httpx.Client(transport=guarded_transport(EgressPolicy()))
>>> try:
...     client.post("http://127.0.0.1:9/hook")
... except AddressRefused as refused:
...     print(str(refused)[:44])
webhook host 127.0.0.1 is a loopback address
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from leadscore.store.egress import EgressPolicy


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's network backend, connecting only to addresses ``policy`` allows."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self.policy.resolve(host, port)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from exc
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:  # as socket.create_connection does, but on checked ones
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("webhooks are not sent over Unix sockets")


def guarded_transport(policy: EgressPolicy, max_connections: int = 100) -> httpx.HTTPTransport:
    """An ``httpx`` transport whose every new connection goes through
    :class:`GuardedBackend` (pooled connections were checked when they were opened)."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx takes no network backend of its own: its pool is replaced by an equal one
    # that has it (the refusal tests in tests/test_webhooks.py notice if this stops working)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=max_connections,
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        network_backend=GuardedBackend(policy),
    )
    return transport
