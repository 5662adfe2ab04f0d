"""Pushed Authorization Requests: RFC 9126 on the embedded server's side.

§2.1 the push (POST /oauth/par, Auth0's path): the client sends the whole authorization
request server to server, authenticated as at the token endpoint (RFC 6749 §2.3; a public
client identifies itself with client_id); the server checks it exactly as /authorize would
(one code path: ``AuthorizeEndpoint``'s checks) and keeps it. §2.2 the answer: 201 with a
``request_uri`` (``urn:ietf:params:oauth:request_uri:…``) and ``expires_in``. §4 the
authorization request then carries only ``client_id`` and ``request_uri``: the pushed
parameters are the request, and whatever else the URL says is ignored (RFC 9126 §4 with
RFC 9101 §5, as FAPI 2.0 reads it), so a parameter changed in the browser cannot change
what was pushed. §5/§6 ``require_pushed_authorization_requests``, for the server or a client.
"""
from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass

from oauthdemo.core.errors import FatalAuthorizeError, InvalidRequest
from oauthdemo.core.events import EventBus
from oauthdemo.core.records import Record
from oauthdemo.core.tables import ExpiringTable

AS = "authorization server"
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"   # RFC 9126 §2.2
REQUEST_URI_TTL = 60        # RFC 9126 §2.2: short-lived; 5 to 600 seconds is suggested
PUSHED_MAX = 2000           # a public client can push unauthenticated: the table is bounded
NAMES_SHOWN, NAME_SHOWN = 5, 30   # ignored URL parameters named on the console: how many, how long
# RFC 9126 §2.1: "request_uri" MUST NOT be pushed; client credentials are not request params.
NOT_REQUEST_PARAMS = ("client_secret",)
INVALID_REQUEST_URI = ("request_uri is unknown, expired, already used, or was pushed by "
                       "another client. Start the login again from the app.")


@dataclass
class PushedRequest(Record):   # immutable: see core.records
    """An authorization request the client pushed: its parameters, whose, and until when."""
    client_id: str
    params: dict
    expires: float


class PushedRequests:
    """POST /oauth/par, and the look-up /authorize makes for a ``request_uri``."""

    def __init__(self, clients, authorization, *, clock, events: EventBus | None = None,
                 limit: int = PUSHED_MAX, require_par: bool = False):
        self.clients, self.authorization, self.clock = clients, authorization, clock
        self.events = events or EventBus()
        self.require_par = require_par      # RFC 9126 §5: the server's own policy
        self._lock = threading.Lock()
        self._pushed = ExpiringTable(limit, "pushed authorization requests")

    def required_for(self, client) -> bool:
        """RFC 9126 §5 (the server) or §6 (this client's registration)."""
        return self.require_par or client.require_par

    # -- §2: the push ----------------------------------------------------------------------
    def push(self, params: dict, authorization: str | None) -> dict:
        """§2.1: authenticate, validate as /authorize does, keep; §2.2: the 201 body."""
        client = self.clients.authenticate(params, authorization)
        if "request_uri" in params:
            raise InvalidRequest("request_uri must not be pushed (RFC 9126 section 2.1).")
        request = {k: v for k, v in params.items() if k not in NOT_REQUEST_PARAMS}
        request["client_id"] = client.client_id   # authenticate refused a body naming another
        self.check_as_authorize_would(request)
        request_uri = REQUEST_URI_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            self._pushed.add(request_uri, PushedRequest(client.client_id, request,
                                                        now + REQUEST_URI_TTL),
                             expires=now + REQUEST_URI_TTL, now=now)
        return {"request_uri": request_uri, "expires_in": REQUEST_URI_TTL}

    def check_as_authorize_would(self, request: dict) -> None:
        """RFC 9126 §2.1: the same checks as the authorization endpoint, at push time; here
        every failure is a JSON error (§2.3), since there is no browser to redirect."""
        endpoint = self.authorization
        try:
            endpoint.check_client_and_redirect(request)
        except FatalAuthorizeError as err:
            raise InvalidRequest(err.description) from err
        endpoint.check_request(request)

    # -- §4: the authorization request that refers to it -------------------------------------
    def request_params(self, query: dict) -> dict:
        """The parameters /authorize acts on: without ``request_uri``, the query; with it,
        the pushed ones, taken once (§4) and only by the client that pushed them. A bad
        request_uri is shown on the page, never redirected: without the pushed request
        there is no trusted redirect_uri to send the browser to."""
        if "request_uri" not in query:
            return query
        pushed = self.take(query.get("request_uri", ""), query.get("client_id", ""))
        if pushed is None:
            raise FatalAuthorizeError(INVALID_REQUEST_URI, error="invalid_request_uri")
        ignored = sorted(set(query) - {"client_id", "request_uri"})
        if ignored:   # names the sender chose: a few, shortened, for the console
            shown = ", ".join(name[:NAME_SHOWN] for name in ignored[:NAMES_SHOWN])
            self.events.check(AS, f"{len(ignored)} parameter(s) in the URL beside request_uri "
                                  f"ignored ({shown}): the pushed request is the request "
                                  "(RFC 9126 §4)", ok=False)
        return dict(pushed.params, request_uri=query["request_uri"])

    def take(self, request_uri: str, client_id: str) -> PushedRequest | None:
        """Single use (RFC 9126 §4 prefers one-time use; we require it), and only by the
        client it was pushed by: another client_id gets nothing, and uses nothing up."""
        with self._lock:
            now = self.clock()
            pushed = self._pushed.get(request_uri, now)
            if pushed is None or not hmac.compare_digest(pushed.client_id.encode(),
                                                         client_id.encode()):
                return None
            return self._pushed.pop(request_uri, now)

    def check_pushed(self, client, params: dict) -> None:
        """RFC 9126 §5/§6: where PAR is required, a request that was not pushed is refused
        (the client and redirect_uri are checked by then, so the error goes back to it)."""
        if "request_uri" not in params and self.required_for(client):
            raise InvalidRequest("Pushed Authorization Requests are required here (RFC 9126 "
                                 "section 5): POST the request to the PAR endpoint first.")
