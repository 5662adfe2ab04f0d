"""The step-through lab's page: the request about to be sent, each parameter explained.

RFC 6749 §4.1.1 (the authorization request), §4.1.3 (the token request), RFC 7636 §4.3
and §4.5 (the challenge, then the verifier), OpenID Connect Core §3.1.2.1 (nonce),
RFC 6750 §2.1 (the Bearer header). Everything here only draws: ``stepmode`` decides what
is sent and keeps the secrets; this module masks them (a reveal shows the whole value,
like the profile page) and escapes every value through ``web.html``.
"""
from __future__ import annotations

from oauthdemo.core.steps import OIDC_CORE, RFC, Step
from oauthdemo.core.text import abbreviate
from oauthdemo.teaching import forensics
from oauthdemo.teaching.fragments import request_block
from oauthdemo.web.html import Markup, partial
from oauthdemo.web.httpkit import Response, render

# One line per parameter: what it is for, and where the rule comes from.
PARAM_HELP = {
    "response_type": ("code: ask for an authorization code", "RFC 6749 §4.1.1",
                      RFC + "rfc6749#section-4.1.1"),
    "client_id": ("which application is asking; the code is issued to it alone",
                  "RFC 6749 §2.2", RFC + "rfc6749#section-2.2"),
    "redirect_uri": ("where the code goes; compared exactly with the registered one",
                     "RFC 6749 §3.1.2", RFC + "rfc6749#section-3.1.2"),
    "scope": ("what the app asks to know and do; openid makes it a login",
              "RFC 6749 §3.3", RFC + "rfc6749#section-3.3"),
    "code_challenge": ("BASE64URL(SHA-256(verifier)): the hash travels, the verifier stays",
                       "RFC 7636 §4.2", RFC + "rfc7636#section-4.2"),
    "code_challenge_method": ("S256; this server refuses plain", "RFC 7636 §4.3",
                              RFC + "rfc7636#section-4.3"),
    "state": ("comes back unchanged; the callback is accepted only with it, in this browser",
              "RFC 6749 §10.12", RFC + "rfc6749#section-10.12"),
    "nonce": ("comes back inside the ID token; ties the token to this login",
              "OIDC Core §3.1.2.1", OIDC_CORE + "#AuthRequest"),
    "audience": ("which API the access token is for (Auth0's parameter)", "RFC 8707 §2",
                 RFC + "rfc8707#section-2"),
    "grant_type": ("authorization_code: trade a code for tokens", "RFC 6749 §4.1.3",
                   RFC + "rfc6749#section-4.1.3"),
    "code": ("the one-time code the callback brought; single use, minutes to live",
             "RFC 6749 §4.1.2", RFC + "rfc6749#section-4.1.2"),
    "code_verifier": ("the secret kept since Step 2; the server hashes it and compares",
                      "RFC 7636 §4.5", RFC + "rfc7636#section-4.5"),
    "token_redirect_uri": ("must be the very redirect_uri of the authorization request",
                           "RFC 6749 §4.1.3", RFC + "rfc6749#section-4.1.3"),
    "bearer": ("the access token: whoever holds it may call the API, so it stays on "
               "the server", "RFC 6750 §2.1", RFC + "rfc6750#section-2.1"),
}
# The pauses, in order: the step each one waits before, and its heading.
PAUSES = {"authorize": (Step.REDIRECT, "Before the redirect to the authorization server"),
          "token": (Step.TOKEN_REQUEST, "Before the token request"),
          "api": (Step.PROTECTED_API, "Before the API call"),
          "done": (Step.PROTECTED_API, "The login is done")}
LEDES = {
    "authorize": "Your app built this authorization request. Edit any parameter and send "
                 "it: the browser goes to the real server, which checks it for real.",
    "token": "The callback arrived and its state was checked. Your app is about to post "
             "the code and the verifier, server to server. Edit and send.",
    "api": "The tokens are on the server; your browser holds only a session cookie. Your "
           "app is about to call the protected API with the access token.",
    "done": "You stepped through the whole login. See it drawn, or call the protected API "
            "again with the tokens your app now holds.",
}
# After a refusal: what resending can do at each pause.
RETRY_NOTES = {
    "authorize": "Edit the request and send it again, or start again.",
    "token": "The code is still unused: the server refused the request without marking it "
             "used. Restore the original values and send again, or start again.",
    "api": "The session's own token still works: restore it and send again.",
    "done": "",
}
SECRET_FIELDS = ("code", "code_verifier", "bearer")   # masked, with a reveal to edit them


def field_row(name: str, value: str, *, editable: bool = True, help_key: str = "") -> Markup:
    """One parameter: its name, its value (an input when editable), one line of why."""
    note, rfc, url = PARAM_HELP[help_key or name]
    if not editable:
        widget = Markup("<code>{}</code>").format(value)
    else:
        widget = partial("step_input.html", name=name, value=value)
        if name in SECRET_FIELDS:
            widget = partial("step_secret.html", masked=abbreviate(value) if value else "(empty)",
                             input=widget)
    return partial("step_field.html", name=name, widget=widget, note=note,
                   rfc=rfc, rfc_url=url)


def request_preview(pause: str, target: str, values: dict) -> Markup:
    """The exact request, one block per parameter: secrets abbreviated (the inputs reveal
    them); app.js marks a parameter "(edited)" once its field no longer holds this value."""
    shown = {k: (abbreviate(v) if k in SECRET_FIELDS else v) for k, v in values.items()}
    if pause == "authorize":
        names = [k for k, v in shown.items() if v]
        params = [("?" if i == 0 else "&") + f"{k}={shown[k]}" for i, k in enumerate(names)]
        return request_block([f"GET {target}"], params, names=names, request=pause)
    if pause == "token":
        names = ["grant_type"] + list(shown)
        params = ["grant_type=authorization_code"] + [f"&{k}={v}" for k, v in shown.items()]
        return request_block([f"POST {target}", "Content-Type: application/x-www-form-urlencoded",
                              ""], params, names=names, request=pause)
    bearer = shown.get("bearer")
    return request_block([f"GET {target}"], [f"Authorization: Bearer {bearer}" if bearer else
                                             "(no Authorization header)"],
                         names=["bearer"], request=pause)


def answer_card(answer, diagnosis, expired: bool, pause: str) -> Markup:
    """The server's real answer: status and RFC error code (data attributes), the forensic
    lines on a failure, and what the learner can do next."""
    if answer is None:
        return Markup("")
    forensic = forensics.forensic_html(diagnosis) if diagnosis else Markup("")
    next_move = partial("step_expired.html") if expired else (
        partial("step_retry.html", note=RETRY_NOTES[pause]) if answer.error else Markup(""))
    return partial("step_answer.html", status=answer.status, error=answer.error or "",
                   verdict="refused" if answer.error else "accepted",
                   summary=answer.summary, forensic=forensic, next=next_move)


def pause_page(pause: str, *, target: str, rows, values: dict, form_token: str,
               answer=None, diagnosis=None, expired: bool = False) -> Response:
    """One pause: the answer to the last send (if any), then the request about to go."""
    step, heading = PAUSES[pause]
    form = Markup("") if pause == "done" or expired else partial(
        "step_form.html", pause=pause, form_token=form_token,
        rows=Markup("").join(rows))
    # Finished: no request is about to go, so no empty card (the UI review: it was a Tab
    # stop with nothing in it); the page offers the API call its lede speaks of instead.
    request = partial("step_done_links.html") if pause == "done" else partial(
        "step_request.html", preview=request_preview(pause, target, values), form=form)
    return render("step.html", title=f"Step through: {heading}", pause=pause,
                  where=f"{step.label} waits for you" if pause != "done" else "finished",
                  heading=heading, lede=LEDES[pause], request=request,
                  answer=answer_card(answer, diagnosis, expired, pause))


def nothing_to_step() -> Response:
    """GET /step with no step-through login in this browser (or one that has ended)."""
    return render("step_none.html", title="Step through a login yourself")
