"""RP-Initiated Logout: which client an ``id_token_hint`` names (OpenID Connect RP-Initiated
Logout 1.0 §2).

A client may log the user out by sending the ID token we issued it, without its
client_id: the hint then identifies the client, whose registered post_logout_redirect_uri
is the only place the browser may go. So the hint is verified like any token of ours
(``core.claims``: our signature, our issuer, the audience it names); only its age is
forgiven, since §2 lets the provider accept an ID token whose exp has passed, and a hint
never grants anything, it only says where a logged-out browser may be sent. It must be
an ID token, though (RFC 8725 §3.11): an access token names no client by its aud.
"""
from __future__ import annotations

from oauthdemo.core.claims import Expect, check_claims, check_type
from oauthdemo.core.errors import InvalidRequest, JoseError
from oauthdemo.core.jose import verify_jws
from oauthdemo.server.token import TOKEN_ALGORITHMS

HINT_REFUSED = "id_token_hint is not an ID token this server issued."
# The typ an ID token of ours carries (core.jose's default, "JWT"), or none at all (OIDC
# Core sets none); an access token (RFC 9068 §2.1: "at+jwt") is signed by the same key
# and would otherwise pass every other check here.
ID_TOKEN_TYPES = (None, "JWT")


def client_id_of_hint(hint: str, *, key_for_kid, issuer: str, now: float) -> str:
    """The client an ID token of ours was issued to: its aud (azp when it has several)."""
    try:
        header, claims = verify_jws(hint, algorithms=TOKEN_ALGORITHMS, key_for_kid=key_for_kid)
        check_type(header, ID_TOKEN_TYPES)   # our access tokens say at+jwt: not a hint
        client_id = audience_of(claims)
        # The claim rules all apply, judged as of the token's own iat: an expired hint
        # still names its client, one from the future or for another issuer does not.
        check_claims(claims, Expect(iss=issuer, aud=client_id, now=issued_at(claims, now),
                                    azp=client_id, require=("sub",)))
    except JoseError as err:
        raise InvalidRequest(HINT_REFUSED) from err
    return client_id


def audience_of(claims: dict) -> str:
    """OIDC Core §2: aud is the client_id, or a list of audiences with azp naming it."""
    aud = claims.get("aud")
    client_id = claims.get("azp") if isinstance(aud, list) else aud
    if not isinstance(client_id, str) or not client_id:
        raise InvalidRequest(HINT_REFUSED)
    return client_id


def issued_at(claims: dict, now: float) -> float:
    """When to judge the hint: at its iat, which must be a number not after ``now``."""
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, (int, float)) or iat > now:
        raise InvalidRequest(HINT_REFUSED)
    return iat
