"""The attack lab's card on the callback's iss (RFC 9207 §2.4): a mix-up.

A client that logs in at several providers can be told that a callback came from a server
other than the one the user was sent to; it would then send the code to that server's token
endpoint. The lab runs a real login of its own at the embedded server up to the callback,
changes only the callback's iss, and delivers it from the browser the state was issued to:
state valid, bound and fresh, the code real. Only iss is wrong, so only the app's iss check
(``OIDCClient.check_callback``, its one path) can refuse it. ``attacks`` registers the card
and turns what happened here into the card's result.
"""
from __future__ import annotations

import secrets

from oauthdemo.core.errors import DemoError

OTHER_ISSUER = "https://attacker.example/"
ISS_SUPPORTED = "authorization_response_iss_parameter_supported"   # RFC 9207 §3
LAB_BROWSER = "lab-mixup-"         # the lab's own browser id: the state is bound to it


def why_not(lab) -> str:
    """Why this attack cannot run against this provider, or "" when it can."""
    if not lab.embedded:
        return "This attack plays the user at the embedded server's login page."
    if not lab.client.metadata.get(ISS_SUPPORTED):
        return ("This attack cannot run: this provider does not send iss in its callbacks "
                f"({ISS_SUPPORTED} is false), so there is no iss for the app to check.")
    return ""


def forged_callback(lab, user: str) -> tuple:
    """The lab's own login, stopped at its callback, with only iss changed:
    (the callback's parameters, the iss the server really sent, the lab's browser id)."""
    browser = LAB_BROWSER + secrets.token_urlsafe(12)
    stolen = lab.scripted_login(user, browser, pending=True)
    params = dict(stolen.request.trace["callback"])
    real = params.get("iss", "(none)")
    params["iss"] = OTHER_ISSUER
    return params, real, browser


def deliver(app_view, lab, params: dict, browser: str) -> DemoError | None:
    """The callback, from the browser its state was issued to, through the app's own Step 6
    check. The state is taken (used up) before iss is compared, so nothing is left pending."""
    try:
        app_view.check_callback(params, lab.app.pending, browser)
    except DemoError as err:
        return err
    return None
