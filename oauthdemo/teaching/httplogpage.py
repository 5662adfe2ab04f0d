"""The HTTP log on /walkthrough: this browser's latest login, hop by hop, grouped by step.

Each hop is a ``<details>`` (no script: the strict CSP holds) with its request and response
headers and bodies, secrets masked; each secret has its own "Reveal" (a ``<details>``
again), except client secrets, which this log never held. Every value is escaped
(``web.html``): a header or a body is the sender's data, not markup.
"""
from __future__ import annotations

import urllib.parse

from oauthdemo.core.steps import Step
from oauthdemo.teaching.httplog import (LoginLog, Masker, header_value, masked, masker_for,
                                        who)
from oauthdemo.web.html import Markup, partial

FORM = "application/x-www-form-urlencoded"
# The step a hop belongs to, by who answered it and where: (actor kind, path) → Step.
# The app's "/" after the callback's 303 is the page that says "you are logged in", drawn
# after Step 9's checks: filed there on every login, whether or not the JWKS was fetched.
APP_PATHS = {"/login": Step.LOGIN, "/callback": Step.CALLBACK, "/": Step.ID_TOKEN,
             "/api/protected": Step.PROTECTED_API, "/api/protected/view": Step.PROTECTED_API}
# The browser's GET /authorize is Step 3, as the diagram draws it (the redirect followed);
# the server's handling of it is Step 4, said on the hop (HOP_NOTES).
SERVER_PATHS = {"/authorize": Step.REDIRECT, "/authorize/login": Step.AUTHENTICATION,
                "/authorize/consent": Step.AUTHENTICATION}
HOP_NOTES = {"/authorize": f"the server's handling of it is {Step.CHALLENGE_STORED.label}"}
# A page's own files (its stylesheet and script) are not steps of the login: folded into
# one collapsed "page assets" line per step (web.httpkit serves them from here).
ASSET_PREFIX = "/static/"


def back_channel_step(e) -> Step | None:
    """Discovery, the token request, the JWKS fetch (Step 9), userinfo/introspection (10)."""
    if urllib.parse.urlsplit(e.url).path.endswith("/openid-configuration"):
        return Step.DISCOVERY
    if b"grant_type=" in e.request_body:
        return Step.TOKEN_REQUEST
    if b'"keys"' in e.response_body:
        return Step.ID_TOKEN
    return Step.PROTECTED_API


def step_of(e, app_actor: str, previous: Step) -> Step:
    if e.channel == "back":
        return back_channel_step(e)
    path = urllib.parse.urlsplit(e.url).path
    table = APP_PATHS if e.actor == app_actor else SERVER_PATHS
    return table.get(path, previous)


def grouped(login: LoginLog, app_actor: str) -> list:
    """[(step, [hops])] in time order; a hop no rule names stays with the step before it."""
    groups, step = [], Step.LOGIN
    for e in login.entries:
        step = step_of(e, app_actor, step)
        if groups and groups[-1][0] is step:
            groups[-1][1].append(e)
        else:
            groups.append((step, [e]))
    return groups


def logged_steps(login: LoginLog | None, app_actor: str) -> dict:
    """{step number: how many hops} of this login: each step's panel links to its own."""
    counts = {}
    for step, hops in grouped(login, app_actor) if login is not None else ():
        counts[step.number] = counts.get(step.number, 0) + len(hops)
    return counts


def group_ids(groups: list) -> list:
    """One id per group: http-step-N for a step's first group (what the panels link to),
    http-step-N-2, -3 … if the step comes back later in the log (ids stay unique)."""
    ids, seen = [], {}
    for step, _ in groups:
        seen[step.number] = seen.get(step.number, 0) + 1
        again = seen[step.number]
        ids.append(f"http-step-{step.number}" + (f"-{again}" if again > 1 else ""))
    return ids


def http_log_section(login: LoginLog | None, app_actor: str) -> Markup:
    """The page's section: the hops of each step, then the HAR links."""
    if login is None:
        return partial("http_log_empty.html")
    groups = grouped(login, app_actor)
    steps = Markup("").join(
        partial("http_step.html", id=group_id, label=step.label, title=step.title,
                hops=step_hops(hops, app_actor))
        for (step, hops), group_id in zip(groups, group_ids(groups)))
    omitted = (f"{login.omitted} later hops were not kept (a log keeps the first "
               f"{len(login.entries)})." if login.omitted else "")
    return partial("http_log.html", flow=f"flow {login.state[:6]}", steps=steps, omitted=omitted)


def is_asset(e) -> bool:
    return e.channel != "back" and urllib.parse.urlsplit(e.url).path.startswith(ASSET_PREFIX)


def step_hops(hops: list, app_actor: str) -> Markup:
    """A step's hops in time order; its page assets folded into one collapsed line, where
    the first of them came."""
    assets = [e for e in hops if is_asset(e)]
    shown, folded = [], False
    for e in hops:
        if not is_asset(e):
            shown.append(hop(e, app_actor))
        elif not folded:
            shown.append(assets_line(assets, app_actor))
            folded = True
    return Markup("").join(shown)


def assets_line(assets: list, app_actor: str) -> Markup:
    names = ", ".join(urllib.parse.urlsplit(e.url).path.rsplit("/", 1)[-1] for e in assets)
    return partial("http_assets.html", count=len(assets), names=names,
                   hops=Markup("").join(hop(e, app_actor) for e in assets))


def hop(e, app_actor: str) -> Markup:
    masker = masker_for(e, app_actor)
    path = urllib.parse.urlsplit(e.url).path
    note = HOP_NOTES.get(path, "") if e.actor != app_actor and e.channel != "back" else ""
    return partial("http_hop.html", channel=e.channel, status=e.status, method=e.method,
                   note=Markup(' · <span class="hop-note" data-hop-note="{}">{}</span>').format(
                       path, note) if note else Markup(""),
                   url=urllib.parse.unquote_plus(masker.url(e.url)), who=who(e, app_actor),
                   took=f"{e.duration * 1000:.1f} ms",
                   request_headers=header_rows(masker.headers(e.request_headers)),
                   request_body=body(e.request_body, e.request_headers, masker, "Request body"),
                   response_headers=header_rows(masker.headers(e.response_headers)),
                   response_body=response_body(e, masker),
                   secrets=secret_list(masker.found))


def header_rows(headers) -> Markup:
    return Markup("").join(partial("walk_kv_row.html", name=name, value=value, note="")
                           for name, value in headers)


def body(raw: bytes, headers, masker: Masker, caption: str) -> Markup:
    if not raw:
        return Markup("")
    text = masker.body(raw, header_value(headers, "content-type"))
    if header_value(headers, "content-type").startswith(FORM):   # one parameter a line
        text = "\n".join(urllib.parse.unquote_plus(pair) for pair in text.split("&"))
    return partial("http_body.html", caption=caption, text=text)


def response_body(e, masker: Masker) -> Markup:
    if not e.response_body and e.response_size:
        return partial("http_body.html", caption="Response body",
                       text=f"An HTML page of {e.response_size} bytes: not kept (a page can "
                            "carry tokens in its markup).")
    return body(e.response_body, e.response_headers, masker, "Response body")


def secret_list(found: list) -> Markup:
    """One line per secret value met in the hop; each revealable one has its own Reveal."""
    if not found:
        return Markup("")
    items = Markup("").join(
        partial("http_secret.html", name=s.name, shown=masked(s.value), value=s.value)
        if s.revealable else
        partial("http_secret_never.html", name=s.name, shown=s.value, why=s.why)
        for s in unique(found))
    return partial("http_secrets.html", items=items)


def unique(found: list) -> list:
    """Each (name, value) once: a cookie sent on every hop is one secret, not five."""
    seen, kept = set(), []
    for secret in found:
        if (secret.name, secret.value) not in seen:
            seen.add((secret.name, secret.value))
            kept.append(secret)
    return kept
