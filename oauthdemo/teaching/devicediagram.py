"""The walkthrough's second diagram: this run's device login (RFC 8628), step by step.

The six device steps (``core.steps.DeviceStep``, the numbers the console prints) drawn as
arrows between the same four lifelines as the code flow, with the real values of the
latest device login the embedded server saw: §3.2's user code and verification URI, §3.3's
answer at /activate, §3.5's polls with each answer, and the token answer, masked. They
come from the server's frozen snapshot (``auth.inspect.latest_device_login``); the device
code itself is never recorded there, so it cannot be shown.

While the login still waits for its user, the user code is not shown: this page is open to
any browser that reaches the app, and a pending user code is what a phisher sends (§5.4).
"""
from __future__ import annotations

from oauthdemo.core.steps import DeviceStep
from oauthdemo.teaching.diagram import icon, segment
from oauthdemo.teaching.fragments import NOTHING
from oauthdemo.web.html import Markup, partial

LANES = (("browser", "Browser", "any device: yours"), ("app", "The CLI", "the device, no browser"),
         ("as", "Authorization server", ""), ("idp", "Identity provider", "the login"))
LANE = {key: number for number, (key, _, _) in enumerate(LANES, start=1)}
HIDDEN = "(shown in your terminal while it waits)"
ANSWERED = ("approved", "denied", "used")
HINT_COMMAND = "python3 complete_oauth_demo.py login --device"


def device_section(auth) -> Markup:
    """The section, or a hint to run a device login when this run has none."""
    login = auth.inspect.latest_device_login() if auth is not None else None
    if login is None:
        return partial("device_none.html", command=HINT_COMMAND)
    return partial("device_section.html", status=login.status, summary=summary(login),
                   diagram=device_diagram(login), values=values_table(login))


def summary(login) -> str:
    who = f" by {login.user}" if login.user else ""
    return (f"The latest device login of this run: {login.client_id} asked for "
            f"“{login.scope}”; the user's answer: {answer_of(login)}{who}; "
            f"{login.poll_count} poll{'s' if login.poll_count != 1 else ''} so far.")


def answer_of(login) -> str:
    return {"used": "approved (tokens handed out)", "pending": "none yet"}.get(
        login.status, login.status)


def user_code(login) -> str:
    return login.user_code if login.status in ANSWERED else HIDDEN


# == the arrows ==================================================================================

def arrows(login) -> list:
    """(step, sender, wire, segments, peek) for each of the six device steps."""
    b, cli, server = LANE["browser"], LANE["app"], LANE["as"]
    return [
        (DeviceStep.DEVICE_REQUEST, "app", "POST /oauth/device/code", ((cli, server),),
         f"client_id {login.client_id}"),
        (DeviceStep.DEVICE_CODE, "as", "device_code (kept by the CLI), user_code, "
         "verification_uri", ((server, cli),), f"user code {user_code(login)}"),
        (DeviceStep.USER_CODE, "app", f"open {login.verification_uri}, type the code",
         ((cli, b), (b, server)), f"meanwhile the CLI polls every {login.interval} s"),
        (DeviceStep.APPROVAL, "browser", "log in, then Allow or Deny", ((b, server),),
         answer_of(login)),
        (DeviceStep.POLLING, "app", "POST /oauth/token grant_type=…device_code",
         ((cli, server), (server, cli)), polls_peek(login)),
        (DeviceStep.TOKENS, "as", "access_token, id_token (masked here)", ((server, cli),),
         "tokens issued" if login.tokens else ""),
    ]


def polls_peek(login) -> str:
    answers = [poll.answer for poll in login.polls]
    return " → ".join(dict.fromkeys(answers)) if answers else ""


def status_of(step: DeviceStep, login) -> str:
    """reached / failed / pending, from how far the snapshot got."""
    last = login.polls[-1].answer if login.polls else ""
    if step is DeviceStep.APPROVAL and login.status == "denied":
        return "failed"
    if step is DeviceStep.POLLING and last in ("expired_token", "access_denied"):
        return "failed"
    reached = {1, 2} | ({3, 4} if login.status in ANSWERED else set())
    reached |= {5} if login.polls else set()
    reached |= {6} if login.tokens else set()
    return "reached" if step.number in reached else "pending"


def arrow_row(step, sender: str, wire: str, segments: tuple, peek: str, login) -> Markup:
    status = status_of(step, login)
    attrs = NOTHING
    if status == "failed":
        error = "access_denied" if login.status == "denied" else login.polls[-1].answer
        attrs = Markup(' data-error="{}"').format(error)
    pending = (Markup('<span class="visually-hidden"> (not reached yet)</span>')
               if status == "pending" else NOTHING)
    shown = Markup(' <span class="peek">{}</span>').format(peek) if peek else NOTHING
    return partial("device_arrow.html", status=status, sender=sender, n=step.number,
                   attrs=attrs, title=step.title, pending=pending, wire=wire, peek=shown,
                   count=len(segments), segments=NOTHING.join(segment(a, c) for a, c in segments))


def device_diagram(login) -> Markup:
    heads = partial("walk_actors.html", actors=NOTHING.join(
        partial("walk_actor.html", key=key, icon=icon(key), name=name, sub=sub or "embedded")
        for key, name, sub in LANES))
    rows = NOTHING.join(arrow_row(*arrow, login) for arrow in arrows(login))
    return partial("walk_diagram.html", actors=heads, rows=rows)


# == the values ==================================================================================

def values_table(login) -> Markup:
    rows = [("client_id", login.client_id, "RFC 8628 §3.1: the CLI, a public client"),
            ("user_code", user_code(login), "§6.1: 8 consonants, typed by a person"),
            ("verification_uri", login.verification_uri, "§3.2: where to type it"),
            ("expires_in", f"{int(login.expires - login.started)} s", "§3.2"),
            ("interval", f"{login.interval} s", "§3.5: slow_down adds 5 s"),
            ("the user's answer", answer_of(login) + (f" ({login.user})" if login.user else ""),
             "§3.3, on the consent page (§5.4)")]
    rows += [(f"poll {i}", f"+{int(poll.at - login.started)} s → {poll.answer}",
              f"interval then {poll.interval} s") for i, poll in enumerate(login.polls, 1)]
    if login.poll_count > len(login.polls):
        rows.append(("later polls", f"{login.poll_count - len(login.polls)} more", ""))
    rows += [(f"token answer: {name}", value, "") for name, value in login.tokens]
    return partial("walk_kv_table.html", caption=Markup(
        '<caption class="visually-hidden">The device login\'s values</caption>'),
        rows=NOTHING.join(row(*r) for r in rows))


def row(name: str, value: str, note: str) -> Markup:
    return partial("walk_kv_row.html", name=name, value=Markup("<code>{}</code>").format(value),
                   note=Markup(' <span class="muted small">{}</span>').format(note)
                   if note else NOTHING)
