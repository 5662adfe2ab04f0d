"""One error tree for the whole demo: ``DemoError`` and its three branches.

* ``OAuth2Error``: what goes over HTTP, with an RFC error code and a status: RFC 6749
  §4.1.2.1 (authorization errors, sent back on the redirect), §5.2 (token endpoint
  errors, JSON) and RFC 6750 §3.1 (``invalid_token`` on protected resources).
* ``JoseError``: a token failed a JOSE or claims check (``core.jose``, ``core.claims``).
  It has no status: what it means over HTTP is the boundary's decision, and there it is
  RFC 6750's ``invalid_token`` (``as_oauth2``).
* ``ConfigError`` and the command line's errors: settings that cannot work, a login that
  timed out, a token cache that cannot be read. Shown to the person running the demo.

A handler never maps "some exception" to a status: ``as_oauth2(err)`` gives the code,
status and body of any ``DemoError``.

Status codes follow Auth0 where it differs from the RFC's suggestion: Auth0 answers
``invalid_grant`` with 403 (the RFC says 400) and ``invalid_client`` with 401.
"""
from __future__ import annotations

import json
import re
import unicodedata
import urllib.parse

# RFC 6749 §4.1.2.1 and §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E, printable
# ASCII without the double quote and the backslash. Pages and the console keep the rich
# text (``description``); the protocol field is this ASCII rendering of it.
DESCRIPTION_CHARS = re.compile(r'[^\x20-\x21\x23-\x5b\x5d-\x7e]')
SECTION_SIGN = re.compile(r"§\s*")
ASCII_SPELLING = {"–": "-", "—": "-", "…": "...", "‘": "'", "’": "'",
                  "“": "'", "”": "'", "→": "->", "←": "<-", "×": "x",
                  "≤": "<=", "≥": ">=", "·": "-", "\u00a0": " "}
REALM = "oauth-pkce-demo"   # RFC 7617 §2: a Basic challenge MUST name its protection space


class DemoError(Exception):
    """The root: every failure the demo expects carries a description a learner can read."""

    description = "The request could not be completed."

    def __init__(self, description: str | None = None):
        if description is not None:
            self.description = description
        super().__init__(self.description)


class OAuth2Error(DemoError):
    """An error that goes over HTTP: an RFC error code, an HTTP status and a description."""

    error = "server_error"
    status_code = 400
    description = "The request could not be completed."

    retry_after: int | None = None   # seconds, sent as Retry-After (RFC 9110 §10.2.3)

    def __init__(self, description: str | None = None, *, status_code: int | None = None,
                 error: str | None = None, details: dict | None = None,
                 retry_after: int | None = None):
        if description is not None:
            self.description = description
        if status_code is not None:
            self.status_code = status_code
        if error is not None:
            self.error = error
        if retry_after is not None:
            self.retry_after = retry_after
        # Extra JSON members for API answers (RFC 6749 §5.2 allows more than error and
        # error_description); never put on a redirect, where they would land in a URL.
        self.details = dict(details or {})
        Exception.__init__(self, f"{self.error}: {self.description}")

    @classmethod
    def from_response(cls, body: dict, status: int) -> "OAuth2Error":
        """A provider's RFC 6749 §5.2 error answer, as an error of ours (oauthlib's
        ``raise_from_error``): its code kept, a 4xx kept, anything else a 502."""
        return ProviderError(str(body.get("error_description") or "No description given."),
                             error=str(body.get("error") or "invalid_response"),
                             status_code=status if 400 <= status < 500 else 502)

    def to_dict(self) -> dict:
        """What goes over the wire: the description as RFC 6749 allows it (printable ASCII)."""
        return {"error": self.error, "error_description": protocol_text(self.description)}

    def to_json(self) -> bytes:
        return json.dumps({**self.to_dict(), **self.details}).encode("utf-8")

    def redirect_query(self, state: str | None = None, iss: str | None = None) -> str:
        """RFC 6749 §4.1.2.1: the error travels back to the client on its redirect_uri."""
        params = self.to_dict()
        if state:
            params["state"] = state
        if iss:
            params["iss"] = iss
        return urllib.parse.urlencode(params)

    challenge_scheme = "Bearer"   # RFC 6750 §3; client authentication errors say Basic

    def www_authenticate(self) -> str:
        """RFC 6750 §3 / RFC 6749 §5.2: the challenge sent with a 401.

        The code and the description may come from a provider, so both are cut down to
        printable ASCII without quotes or backslashes: nothing from outside can break or
        extend the header (add a realm, say)."""
        realm = f'realm="{REALM}", ' if self.challenge_scheme == "Basic" else ""
        return (f'{self.challenge_scheme} {realm}error="{_quotable(self.error)}", '
                f'error_description="{_quotable(protocol_text(self.description))}"')


def protocol_text(text: str) -> str:
    """A description as RFC 6749 §4.1.2.1 / §5.2 allow it on the wire: "§" spelled
    "section", typographic dashes and quotes plain, anything else outside the set dropped."""
    spelled = "".join(ASCII_SPELLING.get(c, c) for c in SECTION_SIGN.sub("section ", str(text)))
    unaccented = unicodedata.normalize("NFKD", spelled)   # "é" → "e" + a mark, dropped below
    return DESCRIPTION_CHARS.sub("", unaccented)


def _quotable(text: str) -> str:
    """What may stand inside a quoted-string of a header (RFC 9110 §5.6.4), and no more."""
    return "".join(c for c in str(text) if " " <= c <= "~" and c not in '"\\')


# --- RFC 6749 §4.1.2.1 / §5.2 error codes -------------------------------------------

class InvalidRequest(OAuth2Error):
    error = "invalid_request"


class MissingCodeChallenge(InvalidRequest):
    description = "code_challenge is required (PKCE, RFC 7636 §4.4.1)."


class UnsupportedChallengeMethod(InvalidRequest):
    description = "code_challenge_method must be S256; 'plain' is not accepted."


class MissingCodeVerifier(InvalidRequest):
    description = "code_verifier is required (RFC 7636 §4.5)."


class RequestTooLarge(InvalidRequest):
    status_code = 413
    description = "The request body is larger than this server accepts."


class MethodNotAllowed(InvalidRequest):
    status_code = 405
    description = "This method is not allowed on this path."


class NotFound(InvalidRequest):
    error = "not_found"
    status_code = 404
    description = "There is nothing at this path."


class InvalidClient(OAuth2Error):
    error = "invalid_client"
    status_code = 401
    challenge_scheme = "Basic"  # RFC 6749 §5.2: the scheme client authentication uses
    description = "Client authentication failed."


class InvalidGrant(OAuth2Error):
    error = "invalid_grant"
    status_code = 403  # Auth0's status for invalid_grant (RFC 6749 §5.2 suggests 400)



class AccessDenied(OAuth2Error):
    error = "access_denied"
    status_code = 403
    description = "The user or the authorization server denied the request."


class InvalidTarget(OAuth2Error):
    """RFC 8707 §2: "the requested resource is invalid, missing, unknown, or malformed"
    (400), at the authorization endpoint and the token endpoint alike. Our ``audience``
    (Auth0's name for it) names the API the tokens are for, as RFC 8707's ``resource``
    does: an unknown one is a bad request, not a user's refusal."""
    error = "invalid_target"


class UnsupportedResponseType(OAuth2Error):
    error = "unsupported_response_type"


class UnsupportedGrantType(OAuth2Error):
    error = "unsupported_grant_type"


class InvalidScope(OAuth2Error):
    error = "invalid_scope"


class ServerError(OAuth2Error):
    error = "server_error"
    status_code = 500


class TemporarilyUnavailable(OAuth2Error):
    error = "temporarily_unavailable"
    status_code = 503


class TableFull(TemporarilyUnavailable):
    """A table of pending state is full: new entries are refused, old ones never evicted
    (evicting would let a flood push out a victim's login, or a revocation)."""

    def __init__(self, description: str, *, retry_after: int):
        super().__init__(description, retry_after=retry_after)


class FatalAuthorizeError(InvalidRequest):
    """A bad client_id or redirect_uri at /authorize (RFC 6749 §4.1.2.1).

    The server must NOT redirect: the redirect_uri is exactly what is in doubt, and
    redirecting would make the server an open redirector for an attacker's URL.
    """


# --- Client side: what the app finds wrong in what comes back --------------------------

class InvalidState(InvalidRequest):
    """The callback's state is missing, unknown, expired, reused or from another browser
    (RFC 6749 §10.12, CSRF)."""
    error = "invalid_state"


class IssuerMismatch(InvalidRequest):
    """RFC 9207: the callback's iss is not the issuer we sent the user to (mix-up attack)."""
    error = "invalid_issuer"


class ProviderError(OAuth2Error):
    """The provider answered with an error of its own; we keep its code and status."""


class ProviderUnreachable(TemporarilyUnavailable):
    status_code = 502


class ProviderBadResponse(ServerError):
    status_code = 502




# --- RFC 6750 §3.1: protected resources -----------------------------------------------

class InvalidToken(OAuth2Error):
    error = "invalid_token"
    status_code = 401
    description = "The token is missing, malformed, expired or not signed by a trusted key."


class MissingBearerToken(InvalidToken):
    """RFC 6750 §3.1: a request with no credentials at all is told which scheme to use,
    and nothing more: no error code, since nothing was wrong with a token it never sent."""
    description = "A Bearer access token is required."

    def www_authenticate(self) -> str:
        return f'Bearer realm="{REALM}"'

    def to_json(self) -> bytes:
        """§3.1: "SHOULD NOT include an error code" holds for the body as for the header;
        a plain message says what to send, with no "error" member a client could act on."""
        return json.dumps({"message": protocol_text(self.description)}).encode("utf-8")


class RevokedToken(InvalidToken):
    description = "The token has been revoked."


# --- JOSE and claims checks: no status of their own --------------------------------------

class JoseError(DemoError):
    """A token failed a check in ``core.jose`` or ``core.claims``."""
    description = "The token is malformed, expired or not signed by a trusted key."


class MalformedToken(JoseError):
    description = "The token is not a well-formed compact JWS."


class AlgorithmNotAllowed(JoseError):
    description = "The token's alg is not in the verifier's allowlist."


class BadSignature(JoseError):
    description = "The signature does not verify with the expected key."


class UnknownKey(JoseError):
    description = "No trusted key matches the token's kid."


class ExpiredToken(JoseError):
    description = "The token has expired."


class ClaimMismatch(JoseError):
    description = "A claim does not have the expected value."


# --- The person running the demo: settings and the command line --------------------------

class ConfigError(DemoError):
    """Settings that cannot work; shown to the person running the demo. Met while serving
    (the backend's database turned out to be shared), it is answered with ``status_code``."""
    error = "configuration_error"
    status_code = 500

    def __init__(self, description: str | None = None, *, status_code: int | None = None):
        super().__init__(description)
        if status_code is not None:
            self.status_code = status_code


class SigningFailed(DemoError):
    """Our own signature failed its self-check: a fault in the server, never the request's."""
    description = "The RSA signature failed its own check; it was not released."


class LoginTimedOut(DemoError):
    """The CLI waited for the browser longer than --timeout."""
    error = "login_timeout"


class TokenCacheError(DemoError):
    """The saved tokens cannot be used (missing, unreadable, for another provider)."""
    error = "token_cache"


def as_oauth2(err: DemoError) -> OAuth2Error:
    """Any DemoError as an HTTP answer: JOSE failures are invalid_token (RFC 6750 §3.1);
    settings that cannot work are the server's fault, not the request's."""
    if isinstance(err, OAuth2Error):
        return err
    if isinstance(err, JoseError):
        return InvalidToken(err.description)
    if isinstance(err, ConfigError):
        return ServerError(err.description, error=err.error, status_code=err.status_code)
    return ServerError(err.description, error=getattr(err, "error", ServerError.error))
