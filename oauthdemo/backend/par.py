"""The backend pushes the mobile app's authorization request (RFC 9126, ``POST /auth/par``).

The mobile app is a public client with no secret; the backend is the confidential client
the provider knows (its ``client_id`` is the one in the app's URL). A provider that
requires Pushed Authorization Requests (§5), or ``OIDC_USE_PAR``, wants that client to
authenticate at its PAR endpoint (§2.1), and only the backend can. So the app sends the
backend the values of this one login it made itself (state, nonce, the PKCE challenge, its
loopback redirect_uri); the backend builds the request through the one client code path
(``OIDCClient.authorize_params``: its own client_id, scope, S256), pushes it with its
secret (``client.par.push``) and answers with the ``request_uri`` alone. The app then
sends the browser to ``/authorize?client_id=…&request_uri=…`` (§4).

The backend never forwards what the app chose beyond those four values, and the verifier
never comes here at this point: only its hash, as in any authorization request.
"""
from __future__ import annotations

from oauthdemo.client import par
from oauthdemo.client.pending import AuthRequest
from oauthdemo.core.errors import InvalidRequest
from oauthdemo.core.steps import Step

ACTOR = "backend"


def wants_par(backend) -> bool:
    """What /auth/config tells the app: push through the backend (RFC 9126 §5 or the setting)."""
    return par.wants_par(backend.client.provider, backend.client.metadata)


def push_for_app(backend, fields: dict) -> dict:
    """POST /auth/par: the app's four values in, the provider's request_uri out."""
    state, nonce, challenge, redirect_uri = require_push_fields(fields)
    e = backend.events
    e.step(ACTOR, Step.REDIRECT, flow=state[:6],
           context="the backend pushes the mobile app's request (RFC 9126)")
    e.say(ACTOR, "POST /auth/par from the mobile app (no secret of its own to push with)")
    backend.check_redirect_uri(redirect_uri)
    req = AuthRequest(state=state, nonce=nonce, verifier="", challenge=challenge,
                      redirect_uri=redirect_uri, issuer=backend.client.provider.issuer,
                      scope=backend.scope, created=backend.clock())
    params = backend.client.authorize_params(req, None)   # the one code path: S256, client_id
    answer = par.push(backend.client, params)   # checked by par.pushed_answer (§2.2)
    par.narrate_push(e, ACTOR, backend.client.metadata[par.ENDPOINT], params, answer)
    e.say(ACTOR, "→ the mobile app gets only client_id and request_uri for the browser's URL")
    return {"client_id": params["client_id"], "request_uri": answer["request_uri"],
            "expires_in": answer.get("expires_in")}


def require_push_fields(fields: dict) -> tuple:
    """Strings, all four: anything else is the app's mistake (RFC 6749 §5.2 invalid_request)."""
    missing = [name for name in par.DELEGATED_FIELDS
               if not (isinstance(fields.get(name), str) and fields[name])]
    if missing:
        raise InvalidRequest("Missing field(s): " + ", ".join(missing) + ". Send state, "
                             "nonce, code_challenge and redirect_uri.")
    return tuple(fields[name] for name in par.DELEGATED_FIELDS)
