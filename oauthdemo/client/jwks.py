"""The provider's signing keys: a JWK Set (RFC 7517 §5) fetched from the discovered jwks_uri.

OpenID Connect Core §10.1.1: a provider rotates its keys by publishing the new one in its
JWKS; a relying party that meets an unknown kid fetches the set again. The key that checks
a token always comes from here, never from the token itself (no ``jwk`` or ``jku`` header
is ever followed).
"""
from __future__ import annotations

import threading
import time

from oauthdemo.client.transport import Transport
from oauthdemo.core.errors import JoseError, ProviderBadResponse, UnknownKey
from oauthdemo.core.jose import rsa_public_key_from_jwk

JWKS_REFETCH_INTERVAL = 10     # after the first, unknown kids refetch the JWKS at most this often
# How a token signed with these keys is checked, by every caller (ID and access tokens):
ID_TOKEN_ALGORITHMS = ["RS256"]  # the allowlist; the token's own header never chooses
LEEWAY = 60                    # seconds of clock skew tolerated for exp / iat
KIDS_SHOWN = 3                 # a fetch's console line names at most this many kids


class JWKSCache:
    """The provider's public keys, fetched from jwks_uri and never from a token.

    An unknown kid means the provider may have rotated its keys: fetch again. The first
    unknown kid refetches at once (a rotation just after our first fetch must not fail
    the next login); later ones at most once per JWKS_REFETCH_INTERVAL, so forged kids
    cannot make us hammer the provider.
    """

    def __init__(self, jwks_uri: str, *, clock=time.time, transport: Transport | None = None,
                 pinned=None, events=None, actor: str = "your app"):
        """``events``: an EventBus told of each real fetch (optional: a bare cache is silent)."""
        self.jwks_uri = jwks_uri
        self.events, self.actor = events, actor
        self.clock = clock
        self.transport = transport or Transport()
        self.keys: dict = {}
        self.fetched_at = None
        self.kid_refetched_at = None   # when an unknown kid last made us fetch again
        self.lock = threading.Lock()
        self.pinned = None
        if pinned is not None:
            self.pin(pinned)

    def pin(self, key):
        """A key known out of band (the CLI's own cached signing key) becomes the only one
        trusted, and jwks_uri is never fetched again, so the server cannot add a key of its
        own later."""
        with self.lock:
            self.pinned = key
            self.keys, self.fetched_at = {key.kid: key}, self.clock()

    def refresh(self, why: str = ""):
        status, doc = self.transport.get(self.jwks_uri)
        if status != 200 or not isinstance(doc.get("keys"), list):
            raise ProviderBadResponse(f"{self.jwks_uri} did not return a JWKS (HTTP {status}).")
        keys = {}
        for jwk in doc["keys"]:
            key = self._usable_key(jwk)
            if key is not None:
                kid = jwk.get("kid")
                keys[kid if isinstance(kid, str) and kid else key.kid] = key
        self.keys, self.fetched_at = keys, self.clock()
        if self.events is not None:
            self.events.say(self.actor, fetch_line(self.jwks_uri, [str(k) for k in keys], why))

    @staticmethod
    def _usable_key(jwk):
        """An RS256 verification key, or None: a key we refuse (too short or too long, a bad
        exponent, zero-padded, for encryption, not even an object) is skipped, never fatal."""
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
            return None
        try:
            return rsa_public_key_from_jwk(jwk)
        except JoseError:
            return None

    def key_for_kid(self, kid):
        with self.lock:
            first_fetch = self.fetched_at is None
            if first_fetch:
                self.refresh()
            key = self._find(kid)
            if (key is None and not first_fetch and self.pinned is None
                    and self._may_refetch_for_unknown_kid()):
                self.kid_refetched_at = self.clock()   # set first: a failed fetch counts too
                self.refresh("fetched again: the token's kid is not in the cached set")
                key = self._find(kid)
        if key is None:
            # The kid is the attacker's text: it is not repeated back (it would reach a header).
            raise UnknownKey("No key with the token's kid in the provider's JWKS.")
        return key

    def _may_refetch_for_unknown_kid(self) -> bool:
        return (self.kid_refetched_at is None
                or self.clock() - self.kid_refetched_at >= JWKS_REFETCH_INTERVAL)

    def _find(self, kid):
        if kid is None:
            return next(iter(self.keys.values())) if len(self.keys) == 1 else None
        return self.keys.get(kid)


def fetch_line(jwks_uri: str, kids: list, why: str = "") -> str:
    """The console's line for one real fetch: "GET <jwks_uri> → 2 keys (kid a, b); …"."""
    named = ", ".join(kids[:KIDS_SHOWN]) + (", …" if len(kids) > KIDS_SHOWN else "")
    count = f"{len(kids)} key{'' if len(kids) == 1 else 's'}"
    return (f"GET {jwks_uri} → {count}" + (f" (kid {named})" if kids else "") + "; "
            + (why or "cached: fetched again only for a kid it does not know"))
