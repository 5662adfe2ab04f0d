"""One claims check for every JWT the demo accepts (RFC 7519 §4.1, OIDC Core §3.1.3.7).

In the spirit of PyJWT's ``decode(audience=, issuer=, leeway=)``: the caller says what it
expects, once, in an ``Expect``; ``verify_jwt`` checks the signature (``core.jose``) and then
every claim against it. The web app's ID token and access token checks, the CLI, the
backend's session tokens, the protected API and the server's /userinfo all come here, so
a rule (exp required, a NaN exp refused, several audiences need azp …) is written once.
"""
from __future__ import annotations

import hmac
import math
from dataclasses import dataclass

from oauthdemo.core.errors import ClaimMismatch, ExpiredToken
from oauthdemo.core.jose import verify_jws

# Claims that are strings by their RFC (RFC 7519 §4.1, OIDC Core §2): never 0, false or [].
SUB_MAX_LENGTH = 255   # OIDC Core §2
STRING_CLAIMS = frozenset({"iss", "sub", "azp", "nonce", "jti", "sid", "typ"})


@dataclass(frozen=True)
class Expect:
    """What a token must say. ``now`` is passed in: the project injects its clock."""
    iss: str
    aud: str                          # must be in the token's aud (a string or a list)
    now: float
    leeway: int = 0                   # seconds of clock skew tolerated for exp, iat, nbf
    nonce: str | None = None          # OIDC: must equal the login's nonce
    azp: str | None = None            # OIDC: with several audiences, azp must be this
    require: tuple = ()               # more claims that must be present ("iat", "sub", …)


def verify_jwt(token: str, *, algorithms, expect: Expect, key=None,
               key_for_kid=None) -> tuple[dict, dict]:
    """Signature by the caller's key with an allowlisted alg, then every claim in ``expect``.
    Returns (header, claims); raises a JoseError on the first thing that is wrong."""
    header, claims = verify_jws(token, algorithms=algorithms, key=key, key_for_kid=key_for_kid)
    check_claims(claims, expect)
    return header, claims


def check_claims(claims: dict, expect: Expect) -> None:
    """The claim rules alone, for a token whose signature was checked just before."""
    _check_issuer(claims, expect.iss)
    audiences = _check_audience(claims, expect.aud)
    if expect.azp is not None and len(audiences) > 1:   # OIDC Core §3.1.3.7 (4)–(5)
        _require(claims.get("azp") == expect.azp, "several audiences but azp is not "
                                                  f"{expect.azp!r}")
    check_time(claims, now=expect.now, leeway=expect.leeway)
    for name in expect.require:
        _require(_present(name, claims.get(name)), f"{name} is missing or not a "
                 + ("non-empty string" if name in STRING_CLAIMS else "value"))
    if expect.nonce is not None:
        got = str(claims.get("nonce", ""))
        _require(hmac.compare_digest(got.encode(), expect.nonce.encode()),
                 "nonce does not match the one this login sent (replayed ID token?)")


def check_type(header: dict, allowed: tuple) -> None:
    """RFC 8725 §3.11 (explicit typing): a JWT of one kind is never taken for another, e.g.
    an RFC 9068 §2.1 ``at+jwt`` access token offered where an ID token is expected."""
    _require(header.get("typ") in allowed, f"typ {header.get('typ')!r} is not one of "
                                           f"{allowed!r}")


def check_time(claims: dict, *, now: float, leeway: int = 0) -> None:
    """RFC 7519 §4.1.4 to §4.1.6: exp is required and not reached; iat and nbf not in the future."""
    exp = claims.get("exp")
    if not _is_number(exp):
        raise ExpiredToken("The token has no numeric 'exp' claim, so it would never expire.")
    # RFC 7519 §4.1.4: the current time MUST be before exp.
    if now >= exp + leeway:
        raise ExpiredToken()
    for name in ("iat", "nbf"):
        if name not in claims:
            continue
        if not _is_number(claims[name]):
            raise ClaimMismatch(f"The '{name}' claim is not a number.")
        if claims[name] > now + leeway:
            raise ClaimMismatch(f"The '{name}' claim is in the future.")


def _check_issuer(claims: dict, issuer: str) -> None:
    _require(claims.get("iss") == issuer, f"iss is {claims.get('iss')!r}, expected {issuer!r}")


def _check_audience(claims: dict, audience: str) -> list:
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    _require(audience in audiences, f"aud {aud!r} does not contain {audience!r}")
    return audiences


def _present(name: str, value) -> bool:
    """A required claim is there; a string claim (sub: OIDC Core §2) is a non-empty string,
    so 0, false, [] or {} in its place is refused. Time claims are checked by check_time."""
    if name == "sub":   # OIDC Core §2: "MUST NOT exceed 255 ASCII characters in length"
        return (isinstance(value, str) and 0 < len(value) <= SUB_MAX_LENGTH
                and value.isascii())
    if name in STRING_CLAIMS:
        return isinstance(value, str) and value != ""
    return value is not None


def _is_number(value) -> bool:
    # bool is an int subclass (true == 1), and NaN compares False with everything, so a
    # NaN exp would never expire: both are refused.
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _require(condition: bool, description: str) -> None:
    if not condition:
        raise ClaimMismatch(description)
