"""Which hosts the web source may fetch from: public internet addresses only, unless allowed.

The indexer runs on a server inside the firm's network. A sitemap, a URL list
or a redirect naming `http://127.0.0.1:8601/admin.html`, `http://10.0.0.5/` or
the cloud metadata address `169.254.169.254` would otherwise make it fetch
internal pages and index them for anyone to search. Every host is resolved
and each of its addresses checked with `ipaddress`; the check runs before a
URL is fetched and again on every request httpx sends (redirects included).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from urllib.parse import urlsplit

ALLOW_HINT = "set allow_private (--allow-private) to fetch from this network"


def non_public_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """'loopback', 'private', … when `ip` is not a public internet address, else None."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("private", ip.is_private),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("reserved", ip.is_reserved),
        ("non-public", not ip.is_global),
    )
    return next((kind for kind, hit in checks if hit), None)


class AddressGuard:
    """Refuses URLs whose host resolves to a non-public address; thread-safe, one lookup per host."""

    def __init__(self, allow_private: bool = False) -> None:
        self.allow_private = allow_private
        self._verdicts: dict[tuple[str, int], str | None] = {}
        self._lock = threading.Lock()

    def refusal(self, url: str) -> str | None:
        """None when `url` may be fetched, else the reason it may not."""
        if self.allow_private:
            return None
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            return f"refused: not a valid URL ({exc})"
        if not host:
            return "refused: the URL names no host"
        with self._lock:
            if (host, port) in self._verdicts:
                return self._verdicts[(host, port)]
        verdict = _check_host(host, port)
        with self._lock:
            self._verdicts[(host, port)] = verdict
        return verdict


def _check_host(host: str, port: int) -> str | None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return f"cannot resolve host {host}: {getattr(exc, 'strerror', None) or exc}"
    for *_, sockaddr in infos:
        try:
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        except ValueError:
            return f"refused: {host} resolves to an address that is not IPv4 or IPv6"
        kind = non_public_kind(ip)
        if kind:
            what = (
                f"{ip} is a {kind} address"
                if host.strip("[]") == str(ip)
                else f"{host} is {ip}, a {kind} address"
            )
            return f"refused: {what}; the web source fetches only public addresses ({ALLOW_HINT})"
    return None
