"""The attack lab's card on device-code phishing (RFC 8628 §5.4, remote phishing).

The device grant gives tokens to whoever holds the device code, not to the browser that
approves. So an attacker starts a device login on its own machine and sends the victim
the user code (or the verification_uri_complete link): "your account needs re-activating".
Nothing in the protocol can tell the victim's approval from a real one; the defences are
the consent page's words (it names the client, says "only approve if you started this on
your own device", and shows the code to compare) and the code's short life.

The lab plays both sides for real against the embedded server: the attacker's requests go
to /oauth/device/code and /oauth/token, the victim's browser (``ScriptedBrowser``) to
/activate, its login form and its consent page. Each device login is polled once, as an
honest device would (a second poll inside the interval earns slow_down, §3.5), so the
three answers come from three logins: pending, denied, and what an approval hands over.
``attacks`` registers the card and turns what happened here into the card's result.
"""
from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from html.parser import HTMLParser

from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.core.errors import ProviderBadResponse
from oauthdemo.core.grants import DEVICE_CODE as GRANT_TYPE   # RFC 8628 §3.4
from oauthdemo.core.text import abbreviate

ENDPOINT = "device_authorization_endpoint"   # RFC 8628 §4: where discovery names it
VICTIM = "alice"
# What the victim reads on the consent page, by its data- attributes
# (templates/as_device_consent.html): who asks, the code to compare, and the warning.
CONSENT_ATTRIBUTES = ("data-client-name", "data-client-id", "data-user-code", "data-defence")
DEFENCE = "started-here-only"   # §5.4: "only approve if you started this on your own device"
# The only thing between the attacker and the tokens is a person reading a page.
CONDITION = "if the user reads the page and presses Deny"


@dataclass(frozen=True)
class ConsentText:
    """The consent page's defence, as the victim sees it: its attributes, and the words of
    the warning (for the card's story; the check reads ``defence``, not the words)."""
    client_name: str
    client_id: str
    user_code: str
    defence: str
    warning: str


class ConsentReader(HTMLParser):
    """The first value of each of CONSENT_ATTRIBUTES (unescaped by the parser), and the text
    of the element that carries ``data-defence``."""

    def __init__(self):
        super().__init__()
        self.found, self.warning, self._in_warning = {}, [], None

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in CONSENT_ATTRIBUTES:
                self.found.setdefault(name, value or "")
                if name == "data-defence" and self._in_warning is None:
                    self._in_warning = tag

    def handle_endtag(self, tag):
        if tag == self._in_warning:
            self._in_warning = ""   # read once: later text is not the warning

    def handle_data(self, data):
        if self._in_warning:
            self.warning.append(data)


def attackers_device_login(lab) -> dict:
    """§3.1: the attacker's own machine asks for a device code, as the demo's CLI. Its calls
    go through the lab client's transport: its timeout, and the HTTP log sees them."""
    client_id = lab.app.auth_server.clients.native_client_id
    status, body = lab.client.transport.post(lab.client.metadata[ENDPOINT],
                                             {"client_id": client_id, "scope": lab.app.scope})
    if status != 200:
        raise ProviderBadResponse(f"The device authorization request failed: HTTP {status} "
                                  f"{body.get('error', '')}.")
    return dict(body, client_id=client_id)


def poll(lab, device: dict) -> tuple:
    """§3.4: one poll at the real token endpoint, as the attacker's machine makes it."""
    return lab.client.transport.post(lab.client.metadata["token_endpoint"],
                                     {"grant_type": GRANT_TYPE, "client_id": device["client_id"],
                                      "device_code": device["device_code"]})


def victim_reads_consent(device: dict) -> tuple:
    """The victim follows the attacker's link, logs in, and reads the consent page:
    (the browser, the consent page)."""
    browser = ScriptedBrowser()
    form = browser.get(device["verification_uri_complete"])   # the code filled in
    login = browser.submit(form)
    index = next((i for i, f in enumerate(login.forms()) if f["fields"].get("user") == VICTIM),
                 None)
    if index is None:
        raise ProviderBadResponse(f"The victim's login page (HTTP {login.status}) offers no "
                                  f"account {VICTIM}.")
    moved = browser.submit(login, index)
    return browser, browser.get(urllib.parse.urljoin(moved.url, moved.location or ""))


def consent_text(page) -> ConsentText:
    reader = ConsentReader()
    reader.feed(page.text)
    reader.close()
    found = reader.found.get
    return ConsentText(found("data-client-name", ""), found("data-client-id", ""),
                       found("data-user-code", ""), found("data-defence", ""),
                       " ".join("".join(reader.warning).split()))


def victim_answers(browser, consent, allow: bool):
    decision = "allow" if allow else "deny"
    return browser.submit(consent, 0 if allow else 1, button=("decision", decision))


def run(lab) -> dict:
    """Three device logins started by the attacker, each polled once: before the victim
    answers, after a Deny, after an Allow (whose tokens the lab revokes at once)."""
    waiting = attackers_device_login(lab)
    lab.say(f"set-up: the attacker starts a device login and sends the victim "
            f"{waiting['verification_uri_complete']}: user code {waiting['user_code']}")
    pending = poll(lab, waiting)
    denied_login, approved_login = attackers_device_login(lab), attackers_device_login(lab)
    lab.say(f"set-up: two more device logins, each with its own code: "
            f"{denied_login['user_code']} (the victim presses Deny) and "
            f"{approved_login['user_code']} (had the victim pressed Allow)")
    browser, consent = victim_reads_consent(denied_login)
    seen = consent_text(consent)
    victim_answers(browser, consent, allow=False)
    denied = poll(lab, denied_login)
    browser, consent = victim_reads_consent(approved_login)
    victim_answers(browser, consent, allow=True)
    approved = poll(lab, approved_login)
    lab.say(f"had the victim pressed Allow: the attacker's poll gets HTTP {approved[0]}"
            f"{' and tokens for the victim (the lab revokes them now)' if approved[0] == 200 else ''}")
    revoke(lab, approved_login["client_id"], approved[1])
    return {"waiting": waiting, "device": denied_login, "consent": seen, "pending": pending,
            "denied": denied, "approved_device": approved_login,
            "approved": approved, "approved_client": approved_login["client_id"]}


def story(seen: dict) -> list:
    """The lines of the card's "sent": the attacker's requests and the victim's clicks."""
    waiting, device, consent = seen["waiting"], seen["device"], seen["consent"]
    return [f"three device logins, each with its own user code and polled once: "
            f"{waiting['user_code']} (not answered yet), {device['user_code']} (denied), "
            f"{seen['approved_device']['user_code']} (approved; the lab revokes its tokens)",
            f"1 · POST /oauth/device/code client_id={waiting['client_id']} → user_code "
            f"{waiting['user_code']} (device_code {abbreviate(waiting['device_code'])} kept)",
            f"1 · to the victim: “please confirm your account at "
            f"{waiting['verification_uri_complete']}”",
            f"1 · POST /oauth/token grant_type=device_code → HTTP {seen['pending'][0]} "
            f"{seen['pending'][1].get('error')} (the victim has not answered yet)",
            f"2 · the victim's consent page for {device['user_code']}: “{consent.warning}”, "
            f"client “{consent.client_name}”, code {consent.user_code}; the victim presses Deny",
            f"2 · POST /oauth/token grant_type=device_code → HTTP {seen['denied'][0]} "
            f"{seen['denied'][1].get('error')}"]


def refused(seen: dict) -> bool:
    """The defence held: the page carried its warning and named this login's client and
    code (§5.4), and the polls gave nothing (§3.5 authorization_pending, access_denied)."""
    consent, device = seen["consent"], seen["device"]
    return (seen["pending"][1].get("error") == "authorization_pending"
            and seen["denied"][1].get("error") == "access_denied"
            and consent.defence == DEFENCE
            and consent.client_id == device["client_id"]
            and consent.user_code == device["user_code"])


def revoke(lab, client_id: str, tokens: dict) -> None:
    """The approved login's tokens die now (RFC 7009): its refresh token revokes the whole
    grant; without one, the access token alone."""
    token = tokens.get("refresh_token") or tokens.get("access_token")
    endpoint = lab.client.metadata.get("revocation_endpoint")
    if token and endpoint:
        lab.client.transport.post(endpoint, {"token": token, "client_id": client_id})
