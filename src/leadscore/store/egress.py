"""Where a webhook may send: its URL, and the addresses its host may reach.

A webhook URL is the one value of the store that makes the service open a connection
somewhere, so it must not be a way into the machine or its network (server-side request
forgery): loopback, private, link-local (cloud metadata at 169.254.169.254), shared,
multicast, reserved and unspecified addresses are refused unless ``webhooks.allow_private``
is set, or the host or its network is in ``webhooks.allow_list``.

The check runs on the addresses the host *resolves to* — once when the webhook is added,
and again at every connection the dispatcher opens (:mod:`leadscore.webhooks.dispatcher`
connects to the address it checked), so a name that later resolves elsewhere (DNS
rebinding) is refused then. A name that does not resolve when the webhook is added is
accepted: it is checked when it does.

Example
-------
>>> policy = EgressPolicy()
>>> policy.check_url("http://127.0.0.1:8080/hook")
Traceback (most recent call last):
...
leadscore.store.egress.AddressRefused: webhook host 127.0.0.1 is a loopback address; ...
>>> EgressPolicy(allow_list=("127.0.0.0/8",)).refusal("127.0.0.1", "127.0.0.1") is None
True
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from leadscore.store.errors import StoreError
from leadscore.store.records import WEBHOOK_KINDS

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: what a refused address is, by the first test it meets
_KINDS = (
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_unspecified", "unspecified"),
    ("is_multicast", "multicast"),
    ("is_private", "private"),
    ("is_reserved", "reserved"),
)


class AddressRefused(StoreError):
    """A webhook host is, or resolves to, an address webhooks may not reach."""


def address_kind(address: IPAddress) -> str | None:
    """Why ``address`` is not public (``"loopback"``, ``"private"`` …), or ``None``.

    Example
    -------
    >>> [address_kind(ipaddress.ip_address(a)) for a in ("10.1.2.3", "::1", "8.8.8.8")]
    ['private', 'loopback', None]
    >>> address_kind(ipaddress.ip_address("::ffff:169.254.169.254"))
    'link-local'
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for test, kind in _KINDS:
        if getattr(address, test):
            return kind
    return None if address.is_global else "non-public"


@dataclass(frozen=True)
class EgressPolicy:
    """Which addresses webhooks may reach (``webhooks.allow_private``,
    ``webhooks.allow_list``; see :class:`~leadscore.config.settings.WebhookSettings`)."""

    allow_private: bool = False
    allow_list: tuple[str, ...] = ()

    @classmethod
    def of(cls, settings: Any) -> EgressPolicy:
        """The policy of a ``WebhookSettings`` section."""
        return cls(bool(settings.allow_private), tuple(settings.allow_list))

    def refusal(self, host: str, address: str) -> str | None:
        """Why ``host`` may not be reached at ``address``, or ``None`` when it may."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
        kind = address_kind(ip)
        if kind is None or self.allow_private or self._listed(host, ip):
            return None
        name = f"webhook host {host}" if host == address else f"webhook host {host} ({address})"
        return (
            f"{name} is a {kind} address; webhooks may only reach public addresses unless "
            "webhooks.allow_private is true or the host is in webhooks.allow_list"
        )

    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of ``host`` in the order to try, every one of them allowed;
        :class:`AddressRefused` naming the first that is not (``socket.gaierror`` when the
        name does not resolve)."""
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            reason = self.refusal(host, address)
            if reason is not None:
                raise AddressRefused(reason)
        return addresses

    def check_url(self, url: str) -> None:
        """Refuse ``url`` (:class:`AddressRefused`) when its host is, or now resolves to,
        an address webhooks may not reach; a name that does not resolve passes."""
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        try:
            self.resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
        except (socket.gaierror, UnicodeError):
            return  # checked again when it resolves, before anything is sent

    def _listed(self, host: str, ip: IPAddress) -> bool:
        name = host.lower().rstrip(".")
        for entry in self.allow_list:
            if "/" in entry:
                network = ipaddress.ip_network(entry, strict=False)
                if ip.version == network.version and ip in network:
                    return True
            elif entry == name:
                return True
        return False


def check_url(url: Any) -> str:
    """``url`` stripped, if it is an http(s) URL with a host; :class:`StoreError` if not."""
    text = url.strip() if isinstance(url, str) else ""
    try:
        parts = urllib.parse.urlsplit(text)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # a malformed port raises ValueError
    except ValueError:
        valid = False
    if not valid:
        raise StoreError(
            f"a webhook URL must be an http:// or https:// URL with a host, not {url!r}"
        )
    return text


def check_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    """The trigger kinds, cleaned; :class:`StoreError` if unknown or none."""
    given = [kinds] if isinstance(kinds, str) else list(kinds)
    clean = tuple(dict.fromkeys(str(k).strip().lower() for k in given))
    unknown = [k for k in clean if k not in WEBHOOK_KINDS]
    if unknown or not clean:
        raise StoreError(
            f"webhook kinds must be one or more of {', '.join(WEBHOOK_KINDS)}, not {given!r}"
        )
    return clean
