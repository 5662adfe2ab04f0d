"""Loopback addresses, parsed in one place (RFC 8252 §7.3 and §8.3).

Three things ask "is this the loopback?": the authorization server matching a native
app's redirect_uri, the backend checking the one it is handed, and the HTTP toolkit's
Host check (plus the client's proxy bypass). All of them use the names below.
"""
from __future__ import annotations

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
