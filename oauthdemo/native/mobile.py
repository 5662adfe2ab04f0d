"""The mobile app's thin client (``python3 complete_oauth_demo.py mobile``), as in the
"mobile app + backend" design (a Flet app with a FastAPI backend).

The app is a public client without a secret (RFC 8252 §8.4). It makes the PKCE pair,
state and nonce itself and catches the callback on a loopback redirect (``native.loopback``),
then hands the code and its verifier to its own backend (``POST /auth/exchange``). The
backend, a confidential client (RFC 6749 §2.1), redeems the code with its secret, checks
the ID token, keeps the provider's tokens and gives the app a session token of its own,
which the app sends as a Bearer token (RFC 6750 §2.1).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from oauthdemo.client import par
from oauthdemo.client.explain import human_duration
from oauthdemo.client.oidc import OIDCClient, new_state
from oauthdemo.client.transport import http_json
from oauthdemo.core.errors import OAuth2Error, ProviderBadResponse
from oauthdemo.core.loopback import is_loopback_url
from oauthdemo.core.events import PLAIN, TOKEN, EventBus
from oauthdemo.core.steps import Step
from oauthdemo.native.loopback import LoopbackOptions, catch_callback
from oauthdemo.settings import Provider

ACTOR, BACKEND = "mobile app", "backend"
HANDOFF_NOTES = {
    "code": "one use; worthless without the verifier",
    "code_verifier": "the app's PKCE secret, revealed only now, to its own backend",
    "redirect_uri": "the backend checks it is a loopback /callback, then repeats it",
    "nonce": "the backend checks the ID token carries it",
    "flow": "only this login's tag, so the demo's console labels the backend's steps alike",
}
# Where the steps this terminal does not show are told: the backend's on the demo's console;
# the authorization server's there too when it is the demo's own (embedded, on loopback).
AT_OUR_SERVER = ("Steps 4, 5 and 8 (at the authorization server) and the backend's Steps 7 "
                 "and 9 are told on the demo's console")
AT_A_PROVIDER = ("Steps 4, 5 and 8 happen at {issuer}, which tells nobody here; the backend's "
                 "Steps 7 and 9 are told on the demo's console")


@dataclass(frozen=True)
class MobileSession:
    """What the app holds after the login: its backend's session token, never the
    provider's tokens."""
    user: dict
    session_token: str
    expires_in: int

    def lines(self, shown: Callable[[str], str]) -> list:
        """The command's result; ``shown`` abbreviates the token unless --show-tokens."""
        name = self.user.get("name") or self.user.get("sub")
        return ["", f"  Logged in through the backend as {name}",
                f"    session token  {shown(self.session_token)}",
                f"    expires        in {human_duration(self.expires_in)} "
                "(POST /auth/refresh with it renews it; POST /auth/logout ends it)",
                "    the provider's tokens are kept by the backend, never by the app", ""]


def elsewhere(issuer: str) -> str:
    """Which steps this terminal does not show, and where they are told."""
    return AT_OUR_SERVER if is_loopback_url(issuer) else AT_A_PROVIDER.format(issuer=issuer)


def log_in(backend_url: str, opts: LoopbackOptions, events: EventBus) -> MobileSession:
    """The thin client: no secret; it makes the PKCE pair and lets the backend redeem the code."""
    state = new_state()   # made first, so that Step 1 carries this login's tag
    events.step(ACTOR, Step.LOGIN, flow=state[:6], context="the mobile app, through its backend")
    client, config = mobile_client(backend_url, events)
    events.say(ACTOR, elsewhere(config.get("issuer") or ""))
    client.reserve_state(state)
    opts = dataclasses.replace(opts, scope=config.get("scope") or opts.scope)
    params, pending = catch_callback(client, opts)
    req, code = client.check_callback(params, pending, browser="")
    answer = hand_code_to_backend(backend_url, code, req, events)
    call_backend_api(backend_url, answer["session_token"], events, flow=req.flow)
    return MobileSession(answer.get("user_info") or {}, answer["session_token"],
                         int(answer.get("expires_in") or 0))


def mobile_client(backend_url: str, events: EventBus) -> tuple:
    """The app ships only its backend's address; the login settings come from there."""
    events.say(ACTOR, f"GET {backend_url}/auth/config")
    config = backend_call(backend_url + "/auth/config")
    if not (config.get("issuer") and config.get("client_id")):
        raise ProviderBadResponse("The backend's /auth/config has no issuer or client_id.")
    events.say(BACKEND, f"issuer={config['issuer']}  client_id={config['client_id']}  "
                        "(public values; the client secret never leaves the backend)")
    provider = Provider("oidc", config["issuer"], config["client_id"], None,
                        config.get("audience"), use_par=config.get("par") is True)
    client = OIDCClient.discover(provider, events=events, actor=ACTOR,
                                 pusher=backend_pusher(backend_url))   # RFC 9126: only it can
    return client, config


def backend_pusher(backend_url: str) -> Callable:
    """RFC 9126 for a public app whose client_id is its backend's: the backend pushes the
    request with its secret (``POST /auth/par``); the app sends only this login's values.
    The raw answer goes back: ``par.pushed_answer`` checks it, as it checks a direct push."""
    via = backend_url + "/auth/par"

    def push(client, params: dict) -> tuple:
        fields = {name: params[name] for name in par.DELEGATED_FIELDS}
        status, body = http_json(via, data=fields)
        return status, body, via
    return push


def hand_code_to_backend(backend_url: str, code: str, req, events: EventBus) -> dict:
    """Step 7 through the backend: the app reveals its verifier to its own backend only."""
    events.step(ACTOR, Step.TOKEN_REQUEST, flow=req.flow, context="via the backend")
    fields = {"code": code, "code_verifier": req.verifier, "redirect_uri": req.redirect_uri,
              "nonce": req.nonce, "flow": req.flow}
    events.say(ACTOR, f"POST {backend_url}/auth/exchange")
    for name, value in fields.items():
        events.show(ACTOR, f"  {name}", value, HANDOFF_NOTES[name],
                    kind=TOKEN if name == "code" else PLAIN)
    answer = backend_call(backend_url + "/auth/exchange", data=fields)
    if not isinstance(answer.get("session_token"), str):
        raise ProviderBadResponse("The backend's answer has no session_token.")
    user = answer.get("user_info") or {}
    events.show(BACKEND, "session_token", answer["session_token"],
                "the backend's own HS256 token; the provider's tokens stay on the backend",
                kind=TOKEN)
    events.show(BACKEND, "user_info    ", f"{user.get('name')} <{user.get('email')}>")
    events.show(BACKEND, "expires_in   ", answer.get("expires_in"),
                "seconds; POST /auth/refresh renews it")
    return answer


def call_backend_api(backend_url: str, session_token: str, events: EventBus, flow: str = ""):
    """Step 10 through the backend: its protected API, with the backend's own token."""
    events.step(ACTOR, Step.PROTECTED_API, flow=flow,
                context="the backend's, with its session token")
    events.say(ACTOR, f"GET {backend_url}/api/me")
    events.show(ACTOR, "  Authorization", session_token,
                "as 'Bearer <session_token>', RFC 6750 §2.1", kind=TOKEN)
    reply = backend_call(backend_url + "/api/me", token=session_token)
    events.check(BACKEND, str(reply.get("message", "200 OK")))


def backend_call(url: str, *, data: dict | None = None, token: str | None = None) -> dict:
    """One request to the backend; a JSON error from it keeps its code (invalid_grant …)."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    status, body = http_json(url, data=data, headers=headers)
    if status != 200:
        raise OAuth2Error.from_response(body, status)
    return body
