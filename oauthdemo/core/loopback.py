"""Loopback addresses, parsed in one place (RFC 8252 §7.3 and §8.3).

Four things ask "is this the loopback?": the authorization server matching a native
app's redirect_uri, the backend checking the one it is handed, the HTTP toolkit's
Host check (plus the client's proxy bypass), and the device grant's rate limit asking
whether a peer address is this machine. All of them use the names below.
"""
from __future__ import annotations

import ipaddress
import re
import urllib.parse

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
# RFC 8252 §7.3: a native app's loopback redirect, any port, a registered path; written as
# the whole allowed shape, so whitespace, controls, user info, a query or a fragment (all
# of which could split a Location header or fool a lenient URL parser) never match.
LOOPBACK_CALLBACK = re.compile(r"http://(?:127\.0\.0\.1|localhost|\[::1\])(?::([1-9][0-9]{0,4}))?"
                               r"(/[a-z]*)")
CALLBACK_PATHS = ("/callback",)   # our CLI's and the mobile app's path


def is_loopback_callback(uri: str, paths: tuple = CALLBACK_PATHS) -> bool:
    """RFC 8252 §7.3: http on a loopback host, any port, one of ``paths`` exactly (the path
    is registered, only the port varies), nothing else."""
    match = LOOPBACK_CALLBACK.fullmatch(uri)
    return (match is not None and match.group(2) in paths
            and (match.group(1) is None or 0 < int(match.group(1)) <= 65535))


def is_loopback_url(url: str) -> bool:
    """Does this URL name this machine? (Its host, not its shape: any scheme, port, path.)"""
    return (urllib.parse.urlsplit(url).hostname or "") in LOOPBACK_HOSTS


def is_loopback_address(address: str) -> bool:
    """A peer's IP address on this machine: 127.0.0.0/8, ::1 or ::ffff:127.x (an IPv4
    loopback peer as an IPv6 socket reports it). Not a name: nobody resolves here."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or bool(mapped and mapped.is_loopback)
