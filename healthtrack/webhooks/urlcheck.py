"""Outbound URL rules: https in production, never a private, loopback, link-local, reserved
or multicast address. Checked when subscribing and again at each delivery, where the name is
resolved once and the connection goes to the address that was checked (no DNS rebinding)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeURL(ValueError):
    pass


def _allowed(ip: ipaddress._BaseAddress) -> bool:
    if str(ip) in settings.WEBHOOKS_ALLOWED_PRIVATE_ADDRESSES:
        return True
    return ip.is_global and not ip.is_multicast


def check(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, the checked IP address) or UnsafeURL saying why not."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise UnsafeURL("The URL must start with https://.")
    if parts.scheme == "http" and settings.WEBHOOKS_REQUIRE_HTTPS:
        raise UnsafeURL("The URL must use https.")
    if not parts.hostname or parts.username or parts.password:
        raise UnsafeURL("The URL needs a host name and no user name or password.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeURL("The URL's port is not a number.") from exc
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL("The URL's host name does not resolve.") from exc
    addresses = {info[4][0] for info in infos}
    for address in addresses:
        if not _allowed(ipaddress.ip_address(address.split("%")[0])):
            raise UnsafeURL("The URL points to a private, loopback or link-local address.")
    return parts.scheme, parts.hostname, port, sorted(addresses)[0]
