"""The attack lab's card on Pushed Authorization Requests (RFC 9126 §4).

The app pushes its authorization request server to server; the attacker, who controls
what the browser's URL says (a crafted link, a browser extension), adds its own
redirect_uri and code_challenge beside client_id and request_uri, hoping the server will
send the code to it, bound to a verifier it knows. The lab then plays the user (one click,
Allow) and looks at where the code really went. ``attacks`` registers the card and turns
what happened here into the card's result.
"""
from __future__ import annotations

import secrets
import urllib.parse

import pkce

from oauthdemo.client import par
from oauthdemo.client.pending import AuthRequest
from oauthdemo.client.useragent import ScriptedBrowser

ATTACKER_REDIRECT = "https://attacker.example/callback"


def pushed_request(lab) -> tuple:
    """The app's own request, pushed as the app pushes it (on a silent bus): (req, answer)."""
    verifier, challenge = pkce.make_pair()
    req = AuthRequest(state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32),
                      verifier=verifier, challenge=challenge, redirect_uri=lab.redirect_uri,
                      issuer=lab.client.provider.issuer, scope=lab.app.scope,
                      created=lab.app.clock())
    client = lab.own_client
    return req, par.push(client, client.authorize_params(req, None))


def tampered_url(lab, client_id: str, request_uri: str) -> tuple:
    """(the URL, what the attacker added): its own redirect_uri and code_challenge."""
    _, attackers_challenge = pkce.make_pair()
    added = {"redirect_uri": ATTACKER_REDIRECT, "code_challenge": attackers_challenge,
             "code_challenge_method": "S256"}
    query = dict({"client_id": client_id, "request_uri": request_uri}, **added)
    endpoint = lab.client.metadata["authorization_endpoint"]
    return endpoint + "?" + urllib.parse.urlencode(query), added


def run(lab) -> dict:
    """Push, tamper, log in as the user; returns where the code went, and with what."""
    req, answer = pushed_request(lab)
    url, added = tampered_url(lab, lab.client.provider.client_id, answer["request_uri"])
    lab.say("set-up: the app pushed its request (Step 3, not repeated here); the attacker "
            f"adds redirect_uri={ATTACKER_REDIRECT} and its own code_challenge to the URL")
    with lab.quiet_at_server(req):
        landed = ScriptedBrowser().login_at_provider(url, "alice")
    return {"landed": landed, "added": added, "req": req, "url": url,
            "to_app": landed.startswith(lab.redirect_uri + "?"),
            "bound_to_app": bound_to_apps_challenge(lab, landed, req.challenge)}


def bound_to_apps_challenge(lab, landed: str, challenge: str) -> bool:
    """The embedded server's record of the code: which challenge it is bound to."""
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(landed).query)).get("code")
    record = lab.app.auth_server.inspect.code_record(code) if code else None
    return record is not None and record.challenge == challenge
