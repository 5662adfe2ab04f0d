"""The embedded server's demo users: the "identity provider" behind one-click logins.

OpenID Connect Core 1.0 §5.1 (standard claims: ``sub``, ``name``, ``email``,
``email_verified``) and §5.4 (which scope releases which claims). Each user stands for
one kind of upstream login a real tenant offers (a social connection, a database user).
"""
from __future__ import annotations

from collections import OrderedDict

DEMO_USERS = OrderedDict([
    ("alice", {"sub": "google-oauth2|108204268033311374519", "name": "Alice Example",
               "email": "alice@example.com", "email_verified": True,
               "connection": "Google", "button": "Continue with Google"}),
    ("bob", {"sub": "github|5821930", "name": "Bob Builder", "email": "bob@example.org",
             "email_verified": True, "connection": "GitHub", "button": "Continue with GitHub"}),
    ("carol", {"sub": "auth0|6560c5bd2f1e4b0a9c3d7e11", "name": "Carol Password",
               "email": "carol@example.net", "email_verified": False,
               "connection": "Username-Password",
               "button": "Log in as Carol (password account; no password asked here)"}),
])


def user_with_sub(sub: str) -> dict | None:
    """The demo user a token's ``sub`` names, if any."""
    return next((u for u in DEMO_USERS.values() if u["sub"] == sub), None)


def profile_claims(user: dict, scope: str) -> dict:
    """OIDC Core §5.4: ``profile`` releases the name, ``email`` the address and whether it
    is verified; ``openid`` alone releases only ``sub``."""
    scopes = scope.split()
    claims = {}
    if "profile" in scopes:
        claims["name"] = user["name"]
    if "email" in scopes:
        claims.update(email=user["email"], email_verified=user["email_verified"])
    return claims
