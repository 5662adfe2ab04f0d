"""The CLI's saved tokens: a mode 0600 file in the user's cache directory, and the refresh
that turns the saved refresh token into new tokens (RFC 6749 §6, with rotation: RFC 9700
§4.14.2, the old refresh token dies when the new one is issued).

Nothing here trusts the file blindly: one others could read is refused (its tokens may
have been copied), and tokens saved for another provider or client are never sent.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from oauthdemo.client.explain import human_duration
from oauthdemo.client.oidc import OIDCClient
from oauthdemo.core import paths
from oauthdemo.core.errors import TokenCacheError
from oauthdemo.core.events import TOKEN
from oauthdemo.core.steps import Step

TOKEN_CACHE_NAME = "tokens.json"
SAVED_TOKEN_FIELDS = ("access_token", "refresh_token", "id_token", "token_type", "scope",
                      "expires_in")


@dataclass(frozen=True)
class Outcome:
    """Who logged in, with which tokens, and where they were saved: a command's result."""
    user: dict
    tokens: dict
    now: float
    id_exp: float | None = None
    saved_to: Path | None = None

    def lines(self) -> list:
        """Who logged in and when the tokens expire (no token values: those stay private)."""
        email = f" <{self.user['email']}>" if self.user.get("email") else ""
        lines = ["", f"  Logged in as {self.user.get('name') or self.user['sub']}{email}",
                 f"    sub            {self.user['sub']}"]
        if self.tokens.get("expires_in"):
            expires = self.now + int(self.tokens["expires_in"])
            lines.append(f"    access token   expires {when(expires, self.now)}")
        if self.id_exp:
            lines.append(f"    ID token       expires {when(self.id_exp, self.now)}")
        lines.append("    refresh token  " + ("received; it rotates on every use"
                                              if self.tokens.get("refresh_token") else "none"))
        lines.append(f"    saved to       {self.saved_to} (mode 600, owner only)" if self.saved_to
                     else "    not saved      (add --save to keep them for --refresh)")
        return lines + [""]


def when(moment: float, now: float) -> str:
    local = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment))
    return f"{local} (in {human_duration(moment - now)})"


def token_cache_path() -> Path:
    return paths.user_cache_dir() / TOKEN_CACHE_NAME


def save_tokens(client: OIDCClient, tokens: dict, user: dict, path: Path) -> Path:
    """Mode 0600 via paths.write_private_file, which refuses when it cannot guarantee it."""
    record = {"issuer": client.provider.issuer, "client_id": client.provider.client_id,
              "user": user, "saved_at": int(client.clock()),
              "tokens": {k: tokens[k] for k in SAVED_TOKEN_FIELDS if tokens.get(k)}}
    try:
        paths.write_private_file(path, json.dumps(record, indent=2).encode("utf-8"))
    except OSError as err:   # UnsafePermissions too: better no cache than a readable one
        raise TokenCacheError(f"Not saving the tokens: {err}") from err
    client.events.check(client.actor, f"tokens saved to {path} (mode 600)")
    return path


def load_tokens(client: OIDCClient, path: Path) -> dict:
    """The saved record, if it is private, well-formed and for this provider and client."""
    try:
        raw = paths.read_private_file(path)
        saved = json.loads(raw) if raw is not None else None
    except paths.UnsafePermissions as err:
        raise TokenCacheError(f"Refusing to use the saved tokens: {err}") from err
    except (ValueError, UnicodeDecodeError) as err:
        raise TokenCacheError(f"{path} is not valid JSON; log in with --save again.") from err
    if saved is None:
        raise TokenCacheError(f"No saved tokens at {path}: log in with --save first.")
    if not (isinstance(saved, dict) and isinstance(saved.get("user"), dict)
            and isinstance(saved.get("tokens"), dict) and saved["tokens"].get("refresh_token")):
        raise TokenCacheError(f"{path} holds no refresh token; log in with --save again.")
    if (saved.get("issuer"), saved.get("client_id")) != (client.provider.issuer,
                                                          client.provider.client_id):
        raise TokenCacheError(f"The saved tokens are for {saved.get('issuer')} (client "
                              f"{saved.get('client_id')}), not for {client.provider.issuer}; "
                              "log in with --save again.")
    return saved


def refresh_saved(client: OIDCClient, path: Path) -> Outcome:
    """RFC 6749 §6: the saved refresh token buys new tokens; the rotated one is saved."""
    events, actor = client.events, client.actor
    saved = load_tokens(client, path)
    old = saved["tokens"]["refresh_token"]
    events.step(actor, Step.REFRESH, context="the CLI's saved refresh token")
    events.show(actor, "refresh_token", old, f"read from {path}", kind=TOKEN)
    tokens = client.refresh(old, id_claims=saved["user"])
    if tokens.get("refresh_token") and tokens["refresh_token"] != old:
        events.check(actor, "the server rotated the refresh token: the saved one is dead now, "
                            "the new one replaces it")
    else:   # a provider that does not rotate: keep using the old one
        tokens = {**tokens, "refresh_token": old}
    save_tokens(client, tokens, saved["user"], path)
    return Outcome(saved["user"], tokens, client.clock(), saved_to=path)
