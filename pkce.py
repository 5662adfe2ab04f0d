"""PKCE, Proof Key for Code Exchange: RFC 7636 §4.1 (verifier), §4.2 (challenge), §4.6 (check).

The client makes a random secret, the *code verifier*, and sends only its SHA-256
hash, the *code challenge*, with the authorization request. When it later redeems
the authorization code it reveals the verifier; the authorization server hashes it
again and compares. Someone who steals the code in between (a malicious app on the
same device, a leaked log, a proxy) cannot redeem it: they never saw the verifier,
and SHA-256 cannot be run backwards from the challenge.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

# RFC 7636 §4.1: code-verifier = 43*128unreserved, unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
# Always used with fullmatch: "$" would also match before a trailing newline, so
# .match(r"^…$") lets "<verifier>\n" through.
VERIFIER_PATTERN = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
# §4.2 S256 gives base64url(SHA-256) without padding: always 43 characters.
CHALLENGE_PATTERN = re.compile(r"[A-Za-z0-9\-_]{43}")
# §4.2: "plain" exists for clients that cannot hash; every client here can, and a
# plain challenge IS the verifier, so anyone who sees the request sees the secret.
SUPPORTED_METHODS = ("S256",)
VERIFIER_BYTES = 32  # §7.1: 32 random octets → 43 characters, 256 bits of entropy


def make_verifier(nbytes: int = VERIFIER_BYTES) -> str:
    """§4.1: a high-entropy random string, base64url-encoded 32 random octets."""
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).decode("ascii").rstrip("=")
    if not VERIFIER_PATTERN.fullmatch(verifier):
        raise ValueError("a verifier needs between 32 and 96 random bytes")
    return verifier


def s256_digest(verifier: str) -> bytes:
    """The 32 bytes of SHA-256(ASCII(verifier)), shown on the walkthrough page."""
    return hashlib.sha256(verifier.encode("ascii")).digest()


def make_challenge(verifier: str) -> str:
    """§4.2: code_challenge = BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))."""
    return base64.urlsafe_b64encode(s256_digest(verifier)).decode("ascii").rstrip("=")


def make_pair() -> tuple:
    """A fresh (verifier, challenge) pair for one authorization request."""
    verifier = make_verifier()
    return verifier, make_challenge(verifier)


def is_well_formed_verifier(verifier: object) -> bool:
    return isinstance(verifier, str) and bool(VERIFIER_PATTERN.fullmatch(verifier))


def is_well_formed_challenge(challenge: object) -> bool:
    return isinstance(challenge, str) and bool(CHALLENGE_PATTERN.fullmatch(challenge))


def verify(verifier: str, challenge: str, method: str = "S256") -> bool:
    """§4.6: the server recomputes the challenge from the verifier and compares.

    Only S256 is accepted. The comparison is constant-time (hmac.compare_digest) so
    response timing leaks nothing about how much of a guess was right.
    """
    if method not in SUPPORTED_METHODS:
        return False
    if not is_well_formed_verifier(verifier) or not is_well_formed_challenge(challenge):
        return False
    return recompute_and_compare(verifier, challenge)[1]


def recompute_and_compare(verifier: str, challenge: str) -> tuple:
    """§4.6 as the server runs it, once: (BASE64URL(SHA256(verifier)), whether it equals the
    stored challenge, compared in constant time). The server shows both to the learner."""
    recomputed = make_challenge(verifier)
    return recomputed, hmac.compare_digest(recomputed.encode("ascii"), challenge.encode("ascii"))
