"""The device authorization grant (RFC 8628): a login for a machine without a browser.

§3.1–3.2 (the device authorization request and its answer: device_code, user_code,
verification_uri, interval), §3.3 (the user enters the code in a browser elsewhere),
§3.4–3.5 (the device polls the token endpoint: authorization_pending, slow_down with an
interval 5 s longer, access_denied, expired_token), §5.1 (user codes can be guessed: rate
limit the entry), §5.4 (remote phishing: the consent page says to approve only a login you
started yourself) and §6.1 (user codes from 20 consonants, no vowels, no look-alikes).
"""
from __future__ import annotations

import math
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass, replace

from oauthdemo.core.errors import (AccessDenied, InvalidGrant, InvalidRequest, OAuth2Error,
                                   TemporarilyUnavailable)
from oauthdemo.core.grants import DEVICE_CODE, SLOW_DOWN_STEP
from oauthdemo.core.loopback import is_loopback_address as is_loopback   # every browser here
from oauthdemo.core.records import Record
from oauthdemo.core.steps import DeviceStep
from oauthdemo.core.tables import BoundedTable, ExpiringTable
from oauthdemo.core.text import is_secret_name, mask_secret
from oauthdemo.server.authorize import (TXN_TTL, Transaction, allowed_scope, check_audience,
                                        check_consent)
from oauthdemo.server.store import Grant, token_hash
from oauthdemo.server.token import ACCESS_TOKEN_TTL, GRANT_TTL, OFFLINE, UnauthorizedClient

AS = "authorization server"
GRANT_TYPE = DEVICE_CODE
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"   # §6.1: no vowels (no words), no 0/O, 1/I
USER_CODE_PATTERN = re.compile(f"[{USER_CODE_ALPHABET}]{{8}}")
USER_CODE_DRAWS = 5            # a collision is drawn again, this often, then 503
DEVICE_CODE_TTL = 600          # §3.2 expires_in: ten minutes to find a browser and approve
FORGET_AFTER = 600             # an expired code is remembered this long, to say expired_token
DEVICE_CODES_MAX = 2000        # pending device logins: anyone can start one (bounded)
PENDING, APPROVED, DENIED, USED = "pending", "approved", "denied", "used"
LOGINS_SHOWN = 20              # device logins the walkthrough can draw (display only)
POLLS_SHOWN = 12               # polls kept per login; a 10-minute wait is ~120 of them


class AuthorizationPending(OAuth2Error):
    error = "authorization_pending"


class SlowDown(OAuth2Error):
    error = "slow_down"


class ExpiredDeviceCode(OAuth2Error):
    error = "expired_token"


class TooManyCodes(OAuth2Error):
    """§5.1's limit, said to a person at /activate: a page with words and a 429, not the
    token endpoint's ``slow_down`` (which tells a polling device to wait longer)."""
    error = "too_many_codes"
    status_code = 429

    def __init__(self, description: str, *, retry_after: int, limit: str):
        super().__init__(description, retry_after=retry_after)
        self.limit = limit     # whose wrong guesses counted: BROWSER or EVERYONE


class UserCodeTaken(Exception):
    """A new user code equals a live one (rare: 20^8 codes); ``start`` draws again."""


@dataclass
class DeviceRecord(Record):   # immutable: see core.records
    """§3.2: one device login, from the device's request until its tokens are handed out."""
    client_id: str
    scope: str
    audience: str | None
    user_code: str
    created: float
    expires: float
    interval: int
    status: str = PENDING
    last_poll: float | None = None
    last_answer: str = ""          # the previous poll's answer: narrate changes only
    user: str | None = None
    auth_time: float | None = None


@dataclass(frozen=True)
class DevicePoll:
    """One poll the device made, as the token endpoint answered it (§3.5)."""
    at: float
    answer: str
    interval: int


@dataclass(frozen=True)
class DeviceLogin:
    """A frozen snapshot of one device login for the walkthrough: the values that travel
    (never the device code), the user's answer, the polls, the token answer masked."""
    user_code: str
    client_id: str
    scope: str
    verification_uri: str
    started: float
    expires: float
    interval: int
    status: str = PENDING
    user: str | None = None
    polls: tuple = ()              # the first POLLS_SHOWN DevicePolls
    poll_count: int = 0
    tokens: tuple = ()             # ((name, value masked), ...) of the token answer


class DeviceHistory:
    """The latest device logins of this run, as snapshots, by user code (bounded)."""

    def __init__(self, limit: int = LOGINS_SHOWN):
        self._lock = threading.Lock()
        self._logins = BoundedTable(limit)

    def started(self, record: DeviceRecord, verification_uri: str) -> None:
        with self._lock:
            self._logins.put(record.user_code, DeviceLogin(
                shown(record.user_code), record.client_id, record.scope, verification_uri,
                record.created, record.expires, record.interval))

    def change(self, user_code: str, **fields) -> None:
        with self._lock:
            login = self._logins.get(user_code)
            if login is not None:
                self._logins[user_code] = replace(login, **fields)

    def polled(self, record: DeviceRecord, answer: str, now: float) -> None:
        with self._lock:
            login = self._logins.get(record.user_code)
            if login is None:
                return
            poll = DevicePoll(now, answer, record.interval)
            polls = login.polls + (poll,) if len(login.polls) < POLLS_SHOWN else login.polls
            self._logins[record.user_code] = replace(login, polls=polls,
                                                     poll_count=login.poll_count + 1)

    def latest(self) -> DeviceLogin | None:
        with self._lock:
            return next(reversed(self._logins.values()), None)


def masked_answer(body: dict) -> tuple:
    """The token answer as the walkthrough may show it: every token hidden (core.text's one
    table of secret names, and its one mask)."""
    return tuple((name, mask_secret(value) if is_secret_name(name) else str(value))
                 for name, value in body.items())


def normalise_user_code(typed: str) -> str | None:
    """§6.1: case-insensitive, the dash (and spaces) optional; None if it cannot be one."""
    code = re.sub(r"[\s-]", "", typed or "").upper()
    return code if USER_CODE_PATTERN.fullmatch(code) else None


def shown(user_code: str) -> str:
    return f"{user_code[:4]}-{user_code[4:]}"


def new_user_code() -> str:
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))


class DeviceStore:
    """The device logins, by device code (hashed) and by user code, behind one lock."""

    def __init__(self, clock, limit: int = DEVICE_CODES_MAX):
        self._clock = clock
        self._lock = threading.RLock()
        self._devices = ExpiringTable(limit, "device logins waiting for their user")
        self._user_codes = ExpiringTable(limit, "device logins waiting for their user")

    def add(self, device_code: str, record: DeviceRecord) -> None:
        with self._lock:
            if self._user_codes.get(record.user_code, record.created) is not None:
                raise UserCodeTaken()
            keep = record.expires + FORGET_AFTER
            self._devices.add(token_hash(device_code), record, expires=keep, now=record.created)
            self._user_codes.add(record.user_code, token_hash(device_code),
                                 expires=record.expires, now=record.created)

    def by_user_code(self, user_code: str):
        """The live, still pending device login a typed user code names (or None)."""
        now = self._clock()
        with self._lock:
            key = self._user_codes.get(user_code, now)
            record = self._devices.get(key, now) if key else None
            return record if record and record.status == PENDING else None

    def decide(self, user_code: str, change) -> DeviceRecord | None:
        """The user's answer, once: ``change(record)`` → the decided record."""
        now = self._clock()
        with self._lock:
            key = self._user_codes.pop(user_code, now)
            record = self._devices.get(key, now) if key else None
            if record is None or record.status != PENDING:
                return None
            decided = change(record)
            self._devices.add(key, decided, expires=decided.expires + FORGET_AFTER, now=now)
            return decided

    def poll(self, device_code: str, answer) -> tuple:
        """One poll, atomically: ``answer(record, now)`` → (new record, outcome)."""
        now, key = self._clock(), token_hash(device_code)
        with self._lock:
            record = self._devices.get(key, now)
            updated, outcome = answer(record, now)
            if updated is not None:
                self._devices.add(key, updated, expires=updated.expires + FORGET_AFTER, now=now)
            return updated, outcome


class GuessLimit:
    """§5.1: user codes can be guessed, so wrong guesses are bounded, by three counts:

    * per browser (its as_browser cookie): a person who mistypes ``per_browser`` times
      waits; only their own guesses count, so one person's typos never lock out another;
    * per address, higher: past ``per_address`` wrong guesses from one address, a browser
      there that has used half its own guesses or more waits (a script that keeps its
      cookie a while). Not on a loopback address (review 2, finding 3): every browser of
      this demo is 127.0.0.1, so the rule could not tell the user from a guesser there,
      and one typo after anyone's 30 wrong guesses would lock the user out. A script that
      drops its cookie after each guess is bounded only by the next count;
    * over everyone, a sliding window: the bound on brute force, whoever guesses.
      A user code has 20^8 = 25,600,000,000 ≈ 2^34.6 values and lives 600 s (one window).
      1,000 wrong guesses per window against one pending code succeed with chance
      1,000 / 2.56e10 ≈ 4e-8; even with DEVICE_CODES_MAX = 2,000 codes pending,
      1,000 × 2,000 / 2.56e10 ≈ 8e-5 per ten minutes.
      The price, said plainly (review 2, finding 2): this count is shared, so anyone who
      types 1,000 wrong codes (a script does it in seconds) shuts /activate for everyone
      on this server, right codes included, until the oldest of them age out of the
      window (not ten minutes after the last). It cannot exempt right codes: that would
      exempt an attacker's lucky guess too. The page says so (``data-limit="everyone"``).
    A guess is reserved (counted as wrong) under the lock before the code is looked up,
    so parallel guesses cannot all pass the check; a right code gives its reservation back.
    """

    def __init__(self, clock, per_browser: int = 5, per_address: int = 30,
                 overall: int = 1000, window: int = 600):
        self.clock, self.window = clock, window
        self.per_browser, self.per_address, self.overall = per_browser, per_address, overall
        self._lock = threading.Lock()
        self._recent: deque = deque()   # times of the wrong guesses in the window (≤ overall)
        # Each entry is made by a reserved guess, so at most 2 × overall are live: never full.
        self._counts = ExpiringTable(2 * overall + 1, "browsers that typed a wrong user code")

    def reserve(self, browser: str, address: str) -> float:
        """Refuse (429) or count this guess as wrong until ``release``; → its time."""
        now = self.clock()
        with self._lock:
            while self._recent and self._recent[0] <= now - self.window:
                self._recent.popleft()
            counts = {key: self._count(key, now) for key in self._keys(browser, address)}
            self._check(counts[("browser", browser)], counts.get(("address", address)), now)
            self._recent.append(now)
            for key, (count, until) in counts.items():
                self._counts.add(key, (count + 1, until), expires=until, now=now)
            return now

    def _check(self, mine: tuple, here: tuple | None, now: float) -> None:
        """Each rule that refuses, with how long it will (finding 8: the wait is the
        longest of them, so a browser is never told to come back too soon)."""
        refusals = []
        if len(self._recent) >= self.overall:
            refusals.append((EVERYONE, self._recent[0] + self.window - now))
        if mine[0] >= self.per_browser:
            refusals.append((BROWSER, mine[1] - now))
        elif here and here[0] >= self.per_address and 2 * mine[0] >= self.per_browser:
            # Ends when either count does: the browser's own (it is then no longer near
            # its limit) or the address's.
            refusals.append((BROWSER, min(mine[1], here[1]) - now))
        if refusals:
            self._refuse(refusals[0][0], max(wait for _, wait in refusals))

    def release(self, browser: str, address: str, at: float) -> None:
        """A right code: the guess reserved at ``at`` was not wrong after all."""
        now = self.clock()
        with self._lock:
            if at in self._recent:
                self._recent.remove(at)
            for key in self._keys(browser, address):
                count, until = self._count(key, now)
                if count > 1:
                    self._counts.add(key, (count - 1, until), expires=until, now=now)
                else:
                    self._counts.pop(key, now)

    @staticmethod
    def _keys(browser: str, address: str) -> tuple:
        """The counts a guess goes to: the browser's, and its address's unless loopback."""
        if is_loopback(address):
            return (("browser", browser),)
        return (("browser", browser), ("address", address))

    def _count(self, key, now: float) -> tuple:
        return self._counts.get(key, now) or (0, now + self.window)

    @staticmethod
    def _refuse(limit: str, wait: float) -> None:
        raise TooManyCodes(REFUSALS[limit], retry_after=int(max(1, math.ceil(wait))),
                           limit=limit)


BROWSER, EVERYONE = "browser", "everyone"   # whose wrong guesses the refusing limit counts
REFUSALS = {
    BROWSER: "Too many wrong codes were typed in this browser. Wait a few minutes, then "
             "type the code your device shows again.",
    EVERYONE: "Too many wrong codes were typed on this server, by anyone: this limit "
              "applies to everyone on this server, so right codes wait too. Wait a few "
              "minutes, then type the code your device shows again.",
}


class DeviceGrant:
    """/oauth/device/code, the user's answer at /activate, and the device's polls."""

    def __init__(self, clients, grants, tokens, issuer, *, audience: str, clock, events,
                 interval: int = 5, history: DeviceHistory | None = None,
                 new_user_code=new_user_code):
        self.clients, self.grants, self.tokens, self.issuer = clients, grants, tokens, issuer
        self.audience, self.clock, self.events = audience, clock, events
        self.interval = interval
        self.history = history or DeviceHistory()
        self.devices = DeviceStore(clock)
        self.guesses = GuessLimit(clock)
        self.new_user_code = new_user_code   # the randomness, injectable like the clock

    # -- §3.1–3.2: the device asks -------------------------------------------------------
    def start(self, params: dict, authorization: str | None) -> dict:
        """The device's request: who it is, what it wants; the codes and where to go."""
        client = self.clients.authenticate(params, authorization)
        if not client.device:   # registered for it (clients.py), as client credentials is
            raise UnauthorizedClient("This client may not use the device grant.")
        audience = check_audience(params, self.audience)
        device_code, record = self.new_device_login(client, params, audience)
        self.narrate_started(record)
        page = self.issuer.url("/activate")
        self.history.started(record, page)
        user_code = record.user_code
        return {"device_code": device_code, "user_code": shown(user_code),
                "verification_uri": page,
                "verification_uri_complete": f"{page}?user_code={shown(user_code)}",
                "expires_in": DEVICE_CODE_TTL, "interval": self.interval}

    def new_device_login(self, client, params: dict, audience: str | None) -> tuple:
        """Store a device code and a fresh user code. A user code equal to a live one is
        drawn again; after USER_CODE_DRAWS collisions, 503 (slow_down is a token-endpoint
        answer to polling, §3.5; it means nothing at this endpoint)."""
        scope, now = allowed_scope(params.get("scope", "")), self.clock()
        for _ in range(USER_CODE_DRAWS):
            device_code = secrets.token_urlsafe(32)
            record = DeviceRecord(client.client_id, scope, audience, self.new_user_code(),
                                  created=now, expires=now + DEVICE_CODE_TTL,
                                  interval=self.interval)
            try:
                self.devices.add(device_code, record)
                return device_code, record
            except UserCodeTaken:
                continue
        raise TemporarilyUnavailable("No free user code right now; try again shortly.",
                                     retry_after=1)

    def narrate_started(self, record: DeviceRecord) -> None:
        e = self.events
        e.step(AS, DeviceStep.DEVICE_CODE)
        e.say(AS, f"device grant (RFC 8628 §3.2): client_id={record.client_id} asks for "
                  f"scope {record.scope!r}; stored a device code (kept as a hash)")
        e.show(AS, "user code", shown(record.user_code),
               f"the user types it at /activate; valid {DEVICE_CODE_TTL // 60} minutes, "
               f"polls every {record.interval} s")

    # -- §3.3: the user, in a browser ----------------------------------------------------
    def find_user_code(self, typed: str, browser: str, address: str) -> DeviceRecord:
        """The pending login a typed code names; wrong codes are counted (§5.1): the guess
        is reserved first, and given back only if the code was right."""
        reserved = self.guesses.reserve(browser, address)
        code = normalise_user_code(typed)
        record = self.devices.by_user_code(code) if code else None
        if record is None:
            self.events.check(AS, "device grant: a wrong or expired user code was typed",
                              ok=False)
            raise InvalidRequest("That code is not valid, or it has expired. Check the "
                                 "code your device shows and type it again.")
        self.guesses.release(browser, address, reserved)
        self.events.step(AS, DeviceStep.APPROVAL)
        self.events.check(AS, f"device grant: user code {shown(record.user_code)} entered; "
                              "the user logs in next")
        return record

    def login_request(self, record: DeviceRecord, browser: str) -> Transaction:
        """The user code was right: a login request like /authorize's, bound to this
        browser, so the same login form (and its form token) serves both flows."""
        now = self.clock()
        txn = Transaction(txn_id=secrets.token_urlsafe(16),
                          client=self.clients[record.client_id],
                          redirect_uri=self.issuer.url("/activate"), scope=record.scope,
                          state=None, nonce=None, challenge="", audience=record.audience,
                          browser=browser, created=now,
                          expires=min(now + TXN_TTL, record.expires),
                          user_code=record.user_code)
        self.grants.add_transaction(txn)   # one write: a full table leaves nothing behind
        return txn

    def user_code_shown(self, txn) -> str:
        """§3.3.1: the code again on the consent page, for the user to compare with the
        device (a link with the code filled in may come from someone else)."""
        if txn.user_code is None:
            raise InvalidRequest("This is not a device login.")
        return shown(txn.user_code)

    def decide(self, txn, allow: bool) -> bool:
        """§3.3: the logged-in user approves or denies the device. False if already decided.
        The consent rule is the code flow's (``check_consent``): logged in first."""
        check_consent(txn, device=True)
        if self.grants.take_transaction(txn.txn_id) is None:
            return False   # answered already (a second tab, a replayed form): once only
        status = APPROVED if allow else DENIED
        decided = self.devices.decide(txn.user_code, lambda r: replace(
            r, status=status, user=txn.user, auth_time=txn.auth_time))
        if not decided:
            return False
        self.history.change(decided.user_code, status=status, user=txn.user)
        self.events.check(AS, f"device grant: {txn.user} {status} the device login "
                              f"{shown(decided.user_code)}", ok=allow)
        return True

    # -- §3.4–3.5: the device polls --------------------------------------------------------
    def redeem(self, client, params: dict) -> dict:
        device_code = params.get("device_code")
        if not device_code:
            raise InvalidRequest("device_code is required.")
        record, outcome = self.devices.poll(
            device_code, lambda record, now: self.answer(record, client, now))
        if isinstance(outcome, OAuth2Error):
            raise outcome
        body = self.tokens.issue(outcome, include_refresh=OFFLINE in outcome.scope.split())
        self.history.change(record.user_code, status=USED, tokens=masked_answer(body))
        return body

    def answer(self, record, client, now: float) -> tuple:
        """Inside the store's lock: (the record as it now is, an error or the grant)."""
        if record is None or record.client_id != client.client_id or record.status == USED:
            return None, InvalidGrant("Unknown or used device_code, or another client's.",
                                      status_code=400)
        outcome = self.poll_outcome(record, now)
        polled = replace(record, last_poll=now, last_answer=outcome_name(outcome),
                         interval=record.interval + (SLOW_DOWN_STEP
                                                     if isinstance(outcome, SlowDown) else 0),
                         status=USED if isinstance(outcome, Grant) else record.status)
        self.history.polled(record, polled.last_answer, now)
        if polled.last_answer != record.last_answer:   # one line per change, not per poll
            self.narrate_poll(record, polled.last_answer, outcome)
        return polled, outcome

    def narrate_poll(self, record: DeviceRecord, answer: str, outcome) -> None:
        line = f"device grant: poll for {shown(record.user_code)} → {answer}"
        if isinstance(outcome, AuthorizationPending):
            self.events.say(AS, line + " (the user has not answered yet)")
        else:
            self.events.check(AS, line, ok=isinstance(outcome, Grant))

    def poll_outcome(self, record: DeviceRecord, now: float):
        """§3.5, in order: expired, too fast, then the user's answer."""
        if now >= record.expires:
            return ExpiredDeviceCode("The device code has expired; start again.")
        if record.last_poll is not None and now - record.last_poll < record.interval:
            return SlowDown(f"Polling too fast: wait {record.interval + SLOW_DOWN_STEP} s "
                            "between requests.")
        if record.status == DENIED:
            return AccessDenied("The user denied the device login.", status_code=400)
        if record.status == PENDING:
            return AuthorizationPending("The user has not approved the device yet.")
        return self.new_grant(record, now)

    def new_grant(self, record: DeviceRecord, now: float):
        """Tokens for the user who approved; an approval without a user is refused (the
        device code is not spent on it)."""
        if record.user is None:
            return InvalidGrant("This device login was approved without a logged-in user.",
                                status_code=400)
        lifetime = GRANT_TTL if OFFLINE in record.scope.split() else ACCESS_TOKEN_TTL
        grant = Grant(secrets.token_urlsafe(12), record.client_id, record.user, record.scope,
                      record.audience, None, record.auth_time, expires=int(now) + lifetime)
        self.grants.add_grant(grant)
        return grant


def outcome_name(outcome) -> str:
    return outcome.error if isinstance(outcome, OAuth2Error) else "tokens issued"
