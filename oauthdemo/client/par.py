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
``pusher``: the backend pushes for it (``backend.par``), and the rest is the same. Every
pusher (``send``, or the mobile app's) returns the raw answer, ``(status, body, via)``;
``pushed_answer`` checks it, once.
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
    return bool(metadata.get(REQUIRED) or provider.use_par)


def front_channel(client, params: dict) -> tuple:
    """(what the browser's URL carries, the PAR answer or None). Without PAR the URL
    carries every parameter; with it (§4), only client_id and request_uri."""
    if not wants_par(client.provider, client.metadata):
        return params, None
    answer = pushed_answer(*(client.pusher or send)(client, params))   # checked once, here
    return {"client_id": params["client_id"], "request_uri": answer["request_uri"]}, answer


def push(client, params: dict) -> dict:
    """§2: push the request ourselves; the checked answer (request_uri, expires_in)."""
    return pushed_answer(*send(client, params))


def send(client, params: dict) -> tuple:
    """§2.1: POST the request, authenticated as at the token endpoint; the raw answer
    ``(status, body, via=None)``. ``client`` is the OIDCClient (transport, metadata, credentials).
    The default pusher: a client with its own credentials pushes for itself."""
    endpoint = client.metadata.get(ENDPOINT)
    if not endpoint:
        raise ProviderBadResponse("Pushed Authorization Requests were asked for, but the "
                                  "provider's discovery document names no "
                                  f"{ENDPOINT} (RFC 9126 section 5).")
    data, headers = client.with_client_auth(dict(params))
    status, body = client.transport.post(endpoint, data, headers)
    return status, body, None


def pushed_answer(status: int, body: dict, via: str | None = None) -> dict:
    """§2.2: a 201 with a non-empty request_uri, whoever pushed (we, or the backend ``via``);
    §2.3: an error answer is the provider's error, as ours."""
    if status not in (200, 201):   # §2.2 says 201; 200 is forgiven
        raise OAuth2Error.from_response(body, status)
    request_uri = body.get("request_uri")
    if not isinstance(request_uri, str) or not request_uri:
        raise ProviderBadResponse(f"{via or 'The PAR endpoint'} answered without a request_uri.")
    answer = {"request_uri": request_uri, "expires_in": body.get("expires_in")}
    return dict(answer, via=via) if via else answer


def narrate_pushed(e: EventBus, a: str, req, pushed: dict, answer: dict, endpoints: tuple):
    """Step 3 as a back-channel POST: the parameters go server to server, and the browser's
    URL carries only client_id and request_uri (RFC 9126 §4)."""
    par_endpoint, authorize_endpoint = endpoints
    e.step(a, Step.REDIRECT, flow=req.flow,
           context="pushed first (RFC 9126)")
    narrate_push(e, a, par_endpoint, pushed, answer, via=answer.get("via"))
    who = "browser" if req.browser else a
    e.say(who, f"→ {authorize_endpoint}?client_id={pushed['client_id']}&request_uri=…  "
               "(nothing else in the URL: nothing there to tamper with)")


def narrate_push(e: EventBus, a: str, endpoint: str, params: dict, answer: dict, *,
                 via: str | None = None):
    """The back-channel POST (§2.1) and its 201 (§2.2), told by whoever pushes: the client
    itself, or (``via``) the app that asks its backend to push with the backend's secret."""
    if via:   # the app has no secret: its backend pushes with its own
        e.say(a, f"POST {via}  → the backend POSTs them to {endpoint} with "
                 "its client secret (back channel: no browser sees these)")
    else:
        e.say(a, f"POST {endpoint}  (back channel, authenticated as at the token endpoint: "
                 "no browser sees these)")
    for name, value in params.items():
        e.show(a, f"  {name}", value, PARAM_NOTES.get(name, ""))
    e.say("authorization server", f"201 request_uri={answer['request_uri']} "
                                  f"expires_in={answer.get('expires_in')}: checked as /authorize "
                                  f"would check it; one use, for {params['client_id']} only")
