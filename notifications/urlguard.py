"""Refuse channel URLs that would make the console a proxy into its own network.

A URL must be http(s) and every address its host resolves to must be public: not
loopback, private, link-local (cloud metadata lives at 169.254.169.254), CGNAT,
multicast, reserved or unspecified, in IPv4, IPv6, or IPv4 written inside IPv6.
Checked when a channel is saved, before each request, and in the connection itself:
``GuardedBackend`` connects only to the addresses it has just checked, so a name that
resolves to a public address for the check and to a private one a moment later (DNS
rebinding) still cannot reach the console's network. Hosts an admin lists in
``NOTIFY_ALLOWED_HOSTS`` (names, IPs or CIDR networks) are exempt.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings


class UnsafeURL(ValueError):
    """The URL may not be used by a channel; the message says why in one line."""


class Unresolvable(UnsafeURL):
    """The host name does not resolve now: refused when saved, retried when sending,
    since a resolver can fail for a moment."""


_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _entries() -> list[str]:
    return [entry.strip().lower() for entry in settings.NOTIFY_ALLOWED_HOSTS if entry.strip()]


def _allowed_name(host: str) -> bool:
    return bool(host) and host.lower() in _entries()


def _allowed(host: str, addresses: list[_Address]) -> bool:
    if _allowed_name(host):
        return True
    networks = []
    for entry in _entries():
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            continue  # a host name, compared above
    return bool(addresses) and all(any(a in net for net in networks) for a in addresses)


def _public(address: _Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return _public(embedded)
        if address.teredo is not None:
            return _public(address.teredo[1])
    # is_global is False for loopback, RFC 1918, link-local (metadata), 100.64/10,
    # fc00::/7 (fd00:ec2::254), documentation and reserved ranges.
    return address.is_global and not address.is_multicast


def resolve(host: str, port: int) -> list[_Address]:
    literal = host.strip("[]")
    try:
        return [ipaddress.ip_address(literal)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(literal, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"host {host!r} does not resolve ({exc})") from None
    # getaddrinfo also parses odd spellings such as 2130706433 or 0x7f.1 into addresses.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def checked_addresses(host: str, port: int) -> list[_Address]:
    """The addresses of ``host`` a channel may connect to; UnsafeURL if any is refused.

    Every address must pass, not only the first: a client may try them all.
    """
    if not host:
        raise UnsafeURL("the URL has no host")
    addresses = resolve(host, port)
    if _allowed(host, addresses):
        return addresses
    for address in addresses:
        if not _public(address):
            raise UnsafeURL(
                f"host {host!r} resolves to {address}, a non-public address; "
                "an admin can allow it in NOTIFY_ALLOWED_HOSTS"
            )
    return addresses


def check_host(host: str, port: int) -> None:
    """Raise UnsafeURL unless ``host`` is allow-listed or resolves to public addresses."""
    if _allowed_name(host):
        return  # trusted by name: not even resolved, so a down resolver is no refusal
    checked_addresses(host, port)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's socket layer, connecting only to addresses that pass the guard.

    The name is resolved and checked here, and the socket opened to one of the checked
    addresses, not to the name, which could resolve differently a second time. TLS
    still verifies the certificate against the name (httpcore passes it as SNI).
    """

    def __init__(self, inner: httpcore.NetworkBackend | None = None):
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        failure: Exception | None = None
        for address in checked_addresses(host, port):
            try:
                return self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                # As socket.create_connection does: try the next address (an IPv6 one
                # that drops packets must not hide a working IPv4 one).
                failure = exc
        raise failure or httpcore.ConnectError(f"{host} has no address")

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise UnsafeURL("channels may not connect to a unix socket")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def guard(transport: httpx.HTTPTransport) -> httpx.HTTPTransport:
    """Route every direct connection of ``transport`` through GuardedBackend.

    Only a direct transport: behind a proxy the socket goes to the proxy, which does
    its own name lookup, so there only the check before each request applies.
    """
    pool = getattr(transport, "_pool", None)
    if type(pool) is not httpcore.ConnectionPool or not hasattr(pool, "_network_backend"):
        # httpx changed how it builds its pool: fail loudly rather than connect unguarded.
        raise RuntimeError("httpx's transport has no direct connection pool to guard")
    pool._network_backend = GuardedBackend(pool._network_backend)
    return transport


def check_url(url: str) -> None:
    """Raise UnsafeURL unless ``url`` is an http(s) URL to a permitted host."""
    try:
        parts = urlsplit(str(url).strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL(f"only http and https URLs are allowed, not {parts.scheme or 'none'!r}")
    if parts.username or parts.password:
        raise UnsafeURL("credentials inside the URL are not allowed")
    check_host(parts.hostname or "", port or (443 if parts.scheme == "https" else 80))
