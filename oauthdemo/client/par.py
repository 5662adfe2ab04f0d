"""Pushed Authorization Requests: RFC 9126 on the client's side.

§2.1: instead of sending the authorization request through the browser, the client POSTs it
to the provider's ``pushed_authorization_request_endpoint``, authenticated as at the token
endpoint (a public client sends its client_id alone); §2.2: the answer (201) is a
``request_uri``; §4: the browser is then sent to the authorization endpoint with only
``client_id`` and ``request_uri``. Nothing the browser (or anyone who can change its URL)
sees can alter the request: it travelled server to server.

Used when the provider requires it (``require_pushed_authorization_requests``, §5) or when
the client is configured to (``OIDC_USE_PAR`` / ``--par``). A client without the
credentials its client_id needs (the mobile app, whose client_id is its backend's) has a
``pusher``: the backend pushes for it (``backend.par``), and the rest is the same.
"""
from __future__ import annotations

from oauthdemo.client.explain import PARAM_NOTES
from oauthdemo.core.errors import OAuth2Error, ProviderBadResponse
from oauthdemo.core.events import EventBus
from oauthdemo.core.steps import Step

ENDPOINT = "pushed_authorization_request_endpoint"    # RFC 9126 §5
REQUIRED = "require_pushed_authorization_requests"
# What a mobile app sends its backend to push for it: this login's own values, nothing else
# (the backend adds its client_id, scope and S256 itself; see backend.par).
DELEGATED_FIELDS = ("state", "nonce", "code_challenge", "redirect_uri")


def wants_par(provider, metadata: dict) -> bool:
    """§5: the provider requires it; or this client was asked to push."""
    return bool(metadata.get(REQUIRED) or getattr(provider, "use_par", False))


def front_channel(client, params: dict) -> tuple:
    """(what the browser's URL carries, the PAR answer or None). Without PAR the URL
    carries every parameter; with it (§4), only client_id and request_uri."""
    if not wants_par(client.provider, client.metadata):
        return params, None
    answer = (client.pusher or push)(client, params)   # a mobile app's backend pushes for it
    return {"client_id": params["client_id"], "request_uri": answer["request_uri"]}, answer


def push(client, params: dict) -> dict:
    """§2: POST the request, authenticated as at the token endpoint; the 201's request_uri.
    ``client`` is the OIDCClient (its transport, metadata and credentials)."""
    endpoint = client.metadata.get(ENDPOINT)
    if not endpoint:
        raise ProviderBadResponse("Pushed Authorization Requests were asked for, but the "
                                  "provider's discovery document names no "
                                  f"{ENDPOINT} (RFC 9126 section 5).")
    data, headers = client.with_client_auth(dict(params))
    status, body = client.transport.post(endpoint, data, headers)
    if status not in (200, 201):   # §2.2 says 201; 200 is forgiven
        raise OAuth2Error.from_response(body, status)
    request_uri = body.get("request_uri")
    if not isinstance(request_uri, str) or not request_uri:
        raise ProviderBadResponse("The PAR endpoint answered without a request_uri.")
    return {"request_uri": request_uri, "expires_in": body.get("expires_in")}


def narrate_pushed(e: EventBus, a: str, req, pushed: dict, answer: dict, endpoints: tuple):
    """Step 3 as a back-channel POST: the parameters go server to server, and the browser's
    URL carries only client_id and request_uri (RFC 9126 §4)."""
    par_endpoint, authorize_endpoint = endpoints
    e.step(a, Step.REDIRECT, flow=req.flow,
           context="pushed first (RFC 9126)")
    if answer.get("via"):   # the app has no secret: its backend pushes with its own
        e.say(a, f"POST {answer['via']}  → the backend POSTs them to {par_endpoint} with "
                 "its client secret (back channel: no browser sees these)")
    else:
        e.say(a, f"POST {par_endpoint}  (back channel: no browser sees these)")
    for name, value in pushed.items():
        e.show(a, f"  {name}", value, PARAM_NOTES.get(name, ""))
    e.say("authorization server", f"201 request_uri={answer['request_uri']} "
                                  f"expires_in={answer.get('expires_in')}: checked as /authorize "
                                  "would check it; one use, for this client only")
    who = "browser" if req.browser else a
    e.say(who, f"→ {authorize_endpoint}?client_id={pushed['client_id']}&request_uri=…  "
               "(nothing else in the URL: nothing there to tamper with)")
