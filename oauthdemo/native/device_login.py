"""The CLI's device login (``login --device``): RFC 8628, the OAuth 2.0 Device Authorization
Grant, as ``gh auth login``, flytectl's DeviceFlow and ``az login --use-device-code`` do it.

Why it exists: the loopback redirect (``native.loopback``) needs a browser that can reach
127.0.0.1 on THIS machine. Over SSH, in WSL or in a container it cannot. Here the CLI opens
no redirect at all; it never receives anything from the browser:

1. the CLI posts its client_id and scope to the device authorization endpoint (§3.1);
2. the server answers a device_code (the CLI keeps it) and a short user_code (§3.2);
3. the CLI prints the verification URL and the user code; the user types the code into
   a browser on any device, their phone included (§3.3);
4. the user logs in there and approves (the server warns: only approve a login you
   started yourself, §5.4 remote phishing);
5. meanwhile the CLI polls the token endpoint with the device_code every ``interval``
   seconds; authorization_pending means "not yet", slow_down "5 s slower" (§3.4, §3.5);
6. the tokens arrive; the ID token is checked by the one OIDC client path (``client.oidc``),
   exactly as every other login's.

No PKCE here: there is no redirect to intercept. What binds the tokens to this CLI is the
device_code, which never leaves it (the user only ever sees the user_code).
"""
from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass
from typing import Callable

from oauthdemo.client.oidc import OIDCClient, check_token_answer
from oauthdemo.core.errors import (ConfigError, LoginTimedOut, OAuth2Error, ProviderBadResponse)
from oauthdemo.core.events import TOKEN, Announced, EventBus, StepStarted
from oauthdemo.core.grants import DEVICE_CODE as DEVICE_GRANT, SLOW_DOWN_STEP  # §3.4, §3.5
from oauthdemo.core.loopback import is_loopback_url
from oauthdemo.core.steps import DeviceStep, Step
from oauthdemo.native import cli_login, tokencache
from oauthdemo.native.browser import open_in_background
from oauthdemo.native.loopback import DEFAULT_TIMEOUT, Countdown
from oauthdemo.native.tokencache import Outcome
from oauthdemo.settings import DEFAULT_SCOPE, Settings

ACTOR = cli_login.ACTOR
DEFAULT_INTERVAL = 5          # §3.2: seconds between polls when the server names none
# No ceiling on the interval: §3.5 says the client MUST wait it, and a poll made sooner only
# earns another slow_down (5 s more, each time) until the code expires. A wait longer than
# the time left ends the login at once, saying why (``timed_out``).
REQUIRED_MEMBERS = ("device_code", "user_code", "verification_uri")   # §3.2
ANSWER_NOTES = {"authorization_pending": "not yet: the user has not approved; ask again later",
                "slow_down": f"too fast: every later poll waits {SLOW_DOWN_STEP} s longer"}


@dataclass(frozen=True)
class DeviceOptions:
    timeout: float = DEFAULT_TIMEOUT
    open_browser: bool = True
    scope: str = DEFAULT_SCOPE
    countdown: object = None                      # the terminal; None: no countdown
    on_url: Callable[[str], None] | None = None   # also hand the URL here (tests play the user)
    sleep: Callable[[float], None] = time.sleep   # injectable: tests never wait
    clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class DeviceAuthorization:
    """The server's §3.2 answer. The device_code stays in this process; the user_code is
    the only part a person ever sees."""
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: float
    interval: float


def log_in(cfg: Settings, opts: DeviceOptions, events: EventBus, *, save: bool = False,
           keys=None) -> Outcome:
    """Device steps 1–6 from the terminal; ``keys`` signs for an embedded server started here."""
    with cli_login.native_client(cfg, DeviceNumbering.bus(events), keys,
                                 grant="device") as (client, elsewhere):
        endpoint = device_endpoint(client)
        if elsewhere:
            events.say(ACTOR, "Device steps 2 and 4 happen at the authorization server, "
                              "out of this terminal's sight")
        grant = request_device_code(client, endpoint, opts.scope)
        show_user_code(client, grant, opts)
        tokens = poll_for_tokens(client, grant, opts)
        claims = client.validate_id_token(tokens.get("id_token"), None)
        events.say(ACTOR, "why no nonce: this grant has no authorization request from the CLI "
                          "to carry one; the device_code, which never left this process, is "
                          "what ties these tokens to this login")
        client.narrate_tokens(tokens)
        user = cli_login.user_of(claims)
        path = tokencache.token_cache_path()
        saved = tokencache.save_tokens(client, tokens, user, path) if save else None
        return Outcome(user, tokens, client.clock(), id_exp=claims.get("exp"), saved_to=saved)


class DeviceNumbering:
    """Tells the ID token check (the one code path, which heads it "Step 9 of 10" in the
    code flow) under the device flow's own number, so one login reads as one numbering."""

    def __init__(self, events: EventBus):
        self.events = events

    @classmethod
    def bus(cls, events: EventBus) -> EventBus:
        return EventBus(cls(events))

    def __call__(self, event):
        if isinstance(event, StepStarted) and event.step is Step.ID_TOKEN:
            event = StepStarted(event.actor, DeviceStep.TOKENS, event.flow, event.context)
        self.events.emit(event)


# == Device step 1: where to ask, and asking =====================================================

def device_endpoint(client: OIDCClient) -> str:
    """RFC 8628 §4: discovery names the endpoint; a provider without one cannot do this."""
    endpoint = client.metadata.get("device_authorization_endpoint")
    if not endpoint:
        raise ConfigError(f"The provider at {client.provider.issuer} publishes no "
                          "device_authorization_endpoint in its discovery document, so it does "
                          "not offer the device grant (RFC 8628). Use `login` (the loopback "
                          "redirect, with ssh -L over SSH) instead, or enable the device flow "
                          "for this application at the provider (Auth0: Application → Advanced "
                          "→ Grant Types → Device Code).")
    return endpoint


def request_device_code(client: OIDCClient, endpoint: str, scope: str) -> DeviceAuthorization:
    """§3.1: a public client sends its client_id and scope; no secret, no redirect_uri."""
    e = client.events
    e.step(ACTOR, DeviceStep.DEVICE_REQUEST, context="no browser needed here")
    data = {"client_id": client.provider.client_id, "scope": scope}
    if client.provider.audience:
        data["audience"] = client.provider.audience
    e.say(ACTOR, f"POST {endpoint}")
    for name, value in data.items():
        e.show(ACTOR, f"  {name}", value)
    status, body = client.transport.post(endpoint, data)
    if status != 200:
        raise OAuth2Error.from_response(body, status)
    grant = parse_device_answer(body)
    narrate_device_answer(e, grant)
    return grant


def parse_device_answer(body: dict) -> DeviceAuthorization:
    """§3.2's members, each checked: this answer decides what the user is told to open."""
    for name in REQUIRED_MEMBERS:
        if not isinstance(body.get(name), str) or not body[name]:
            raise ProviderBadResponse(f"The device authorization answer has no {name}.")
    expires_in, interval = body.get("expires_in"), body.get("interval", DEFAULT_INTERVAL)
    for name, value in (("expires_in", expires_in), ("interval", interval)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise ProviderBadResponse(f"The device authorization answer's {name} is not a "
                                      "positive number.")
    complete = body.get("verification_uri_complete")
    for uri in (body["verification_uri"], complete):
        if uri is not None and not safe_to_open(uri):
            raise ProviderBadResponse("The device authorization answer's verification URI is "
                                      "not an https URL (or http on this machine): not opened.")
    return DeviceAuthorization(body["device_code"], body["user_code"], body["verification_uri"],
                               complete or "", float(expires_in), float(interval))


def safe_to_open(uri) -> bool:
    """The browser is only ever handed a web page: https, or http on this machine (the
    embedded server). A file:, javascript: or custom-scheme URL is refused."""
    if not isinstance(uri, str):
        return False
    scheme = urllib.parse.urlsplit(uri).scheme
    return scheme == "https" or (scheme == "http" and is_loopback_url(uri))


def narrate_device_answer(e: EventBus, grant: DeviceAuthorization):
    e.step(ACTOR, DeviceStep.DEVICE_CODE)
    e.show(ACTOR, "device_code", grant.device_code, "stays in this process: it is what the "
                  "CLI will poll with, so it is never shown to the user", kind=TOKEN)
    e.show(ACTOR, "user_code  ", grant.user_code, "short, for a person to type")
    e.show(ACTOR, "expires_in ", f"{grant.expires_in:g} s", "the codes die after this")
    e.show(ACTOR, "interval   ", f"{grant.interval:g} s", "how long to wait between polls")


# == Device step 3: the user takes the code to a browser =========================================

def show_user_code(client: OIDCClient, grant: DeviceAuthorization, opts: DeviceOptions):
    """Always printed (even with --quiet): it is what the user must do now."""
    client.events.step(ACTOR, DeviceStep.USER_CODE)
    client.events.say(ACTOR, "the CLI opens no redirect and listens on no port: nothing comes "
                             "back to this machine; the user only carries the code")
    lines = ("", "  On any device with a browser (your phone will do), open", "",
             f"    {grant.verification_uri}", "", "  and enter the code", "",
             f"    {grant.user_code}", "")
    if grant.verification_uri_complete:
        lines += ("  or open this URL, which carries the code already:", "",
                  f"    {grant.verification_uri_complete}", "")
    lines += ("  Approve only if this code is the one shown in YOUR terminal: anyone who sends",
              "  you a code is asking you to log THEM in as you (RFC 8628 §5.4).", "")
    client.events.emit(Announced(ACTOR, lines))
    url = grant.verification_uri_complete or grant.verification_uri
    if opts.open_browser and open_in_background(url):
        client.events.emit(Announced(ACTOR, ("  (opening your browser)",)))
    if opts.on_url is not None:
        opts.on_url(url)


# == Device step 5: polling ========================================================================

def poll_for_tokens(client: OIDCClient, grant: DeviceAuthorization, opts: DeviceOptions) -> dict:
    """§3.4–3.5: ask every ``interval`` seconds until the tokens, an error, or the deadline."""
    e = client.events
    e.step(ACTOR, DeviceStep.POLLING, context="the CLI asks, again and again")
    e.say(ACTOR, f"POST {client.metadata['token_endpoint']}  grant_type={DEVICE_GRANT}, "
                 "device_code, client_id (no secret, no code_verifier)")
    limit = min(opts.timeout, grant.expires_in)
    deadline, interval, last = opts.clock() + limit, grant.interval, None
    countdown = Countdown(opts.countdown, "waiting for your approval", deadline_words(opts, grant))
    try:
        while True:
            left = max(deadline - opts.clock(), 0)
            if left < interval:   # no poll fits before the deadline: one sooner is refused
                raise timed_out(limit, opts.timeout < grant.expires_in, interval, left)
            pause(opts, countdown, interval, deadline)
            countdown.finish()    # the answer's line starts on a clean line
            status, body = poll_once(client, grant)
            if status == 200:
                e.check(ACTOR, "the token endpoint answered 200: the user approved")
                return check_token_answer(body)   # §3.5: the code grant's answer (RFC 6749 §5.1)
            interval, last = next_interval(e, body, status, interval, last)
    finally:
        countdown.finish()


def deadline_words(opts: DeviceOptions, grant: DeviceAuthorization) -> str:
    """Whose deadline the countdown counts, the sooner of the CLI's --timeout and the code's
    life (the UI review: expires_in = 600 s, then "1:58 left" with no word why). Short: the
    line is redrawn in place, so it must fit 80 columns."""
    if opts.timeout < grant.expires_in:
        return f"of --timeout {opts.timeout:g} s; code lives {grant.expires_in:g} s"
    return f"of the code's {grant.expires_in:g} s; --timeout {opts.timeout:g} s"


def pause(opts: DeviceOptions, countdown: Countdown, seconds: float, deadline: float):
    """Wait ``seconds`` with the injected sleep; on a terminal the countdown is redrawn every
    second meanwhile, elsewhere a plain line now and then (Countdown.tick)."""
    if not countdown.live:
        countdown.tick(max(deadline - opts.clock(), 0))
        opts.sleep(seconds)
        return
    end = opts.clock() + seconds
    left = seconds
    while left > 0:
        countdown.show(max(deadline - opts.clock(), 0))
        opts.sleep(min(left, countdown.interval))
        left = end - opts.clock()


def poll_once(client: OIDCClient, grant: DeviceAuthorization) -> tuple:
    data = {"grant_type": DEVICE_GRANT, "device_code": grant.device_code,
            "client_id": client.provider.client_id}
    return client.transport.post(client.metadata["token_endpoint"], data)


def next_interval(e: EventBus, body: dict, status: int, interval: float, last) -> tuple:
    """(the interval for the next poll, the answer now); a final answer raises. One line
    per change of answer, so a long wait does not flood the console."""
    error = body.get("error")
    if error not in ANSWER_NOTES:   # access_denied, expired_token, invalid_grant …: final
        e.check(ACTOR, f"the token endpoint answered {error}: the login is over", ok=False)
        raise OAuth2Error.from_response(body, status)
    if error == "slow_down":
        interval += SLOW_DOWN_STEP   # for good (§3.5), however long it gets
    if error != last or error == "slow_down":
        e.show(ACTOR, "answer", f"{status} {error}", f"{ANSWER_NOTES[error]}; next poll in "
                                                    f"{interval:g} s")
    return interval, error


def timed_out(limit: float, ours: bool, interval: float, left: float) -> LoginTimedOut:
    """Stop as soon as the next poll cannot come in time: waiting on would change nothing."""
    why = ("--timeout" if ours else "the device code's life (the server's expires_in)")
    return LoginTimedOut(f"No approval arrived, and the next poll, due in {interval:g} s (the "
                         f"server's interval), would come after the {limit:g} s of {why} "
                         f"end ({left:.0f} s left); nothing was saved. Run the command again "
                         "for a new code (--timeout sets how long to wait).")
