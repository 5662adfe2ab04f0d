"""The device authorization grant (RFC 8628): a login for a machine without a browser.

§3.1–3.2 (the device authorization request and its answer: device_code, user_code,
verification_uri, interval), §3.3 (the user enters the code in a browser elsewhere),
§3.4–3.5 (the device polls the token endpoint: authorization_pending, slow_down with an
interval 5 s longer, access_denied, expired_token), §5.1 (user codes can be guessed: rate
limit the entry), §5.4 (remote phishing: the consent page says to approve only a login you
started yourself) and §6.1 (user codes from 20 consonants, no vowels, no look-alikes).
"""
from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, replace

from oauthdemo.core.errors import AccessDenied, InvalidGrant, InvalidRequest, OAuth2Error
from oauthdemo.core.records import Record
from oauthdemo.core.steps import DeviceStep
from oauthdemo.core.tables import ExpiringTable
from oauthdemo.server.authorize import TXN_TTL, Transaction, allowed_scope
from oauthdemo.server.store import Grant, token_hash
from oauthdemo.server.token import ACCESS_TOKEN_TTL, GRANT_TTL, OFFLINE, UnauthorizedClient

AS = "authorization server"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"   # §6.1: no vowels (no words), no 0/O, 1/I
USER_CODE_PATTERN = re.compile(f"[{USER_CODE_ALPHABET}]{{8}}")
DEVICE_CODE_TTL = 600          # §3.2 expires_in: ten minutes to find a browser and approve
FORGET_AFTER = 600             # an expired code is remembered this long, to say expired_token
SLOW_DOWN_STEP = 5             # §3.5: "the interval MUST be increased by 5 seconds"
DEVICE_CODES_MAX = 2000        # pending device logins: anyone can start one (bounded)
PENDING, APPROVED, DENIED, USED = "pending", "approved", "denied", "used"


class AuthorizationPending(OAuth2Error):
    error = "authorization_pending"


class SlowDown(OAuth2Error):
    error = "slow_down"


class ExpiredDeviceCode(OAuth2Error):
    error = "expired_token"


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
        self._txns = ExpiringTable(limit, "device logins at the login form")   # txn → user code

    def add(self, device_code: str, record: DeviceRecord) -> None:
        with self._lock:
            if self._user_codes.get(record.user_code, record.created) is not None:
                raise OAuth2Error("User code collision; ask again.", error="slow_down")
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

    def bind(self, txn, user_code: str) -> None:
        """The login request made for a typed user code, until that request expires."""
        with self._lock:
            self._txns.add(txn.txn_id, user_code, expires=txn.expires, now=txn.created)

    def user_code_of(self, txn_id: str) -> str | None:
        with self._lock:
            return self._txns.get(txn_id, self._clock())

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
    """§5.1: a user code has ~34 bits, so wrong guesses are counted, per client address
    and over all of them, in bounded tables; past the limit entry is refused (429)."""

    def __init__(self, clock, per_address: int = 5, overall: int = 50, window: int = 600,
                 addresses_max: int = 5000):
        self.clock, self.window = clock, window
        self.per_address, self.overall = per_address, overall
        self._lock = threading.Lock()
        self._wrong = ExpiringTable(addresses_max, "addresses that typed a wrong user code")
        self._all = ExpiringTable(1, "wrong user codes")

    def check(self, address: str) -> None:
        now = self.clock()
        with self._lock:
            mine = self._wrong.get(address, now) or (0, now + self.window)
            total = self._all.get("all", now) or (0, now + self.window)
        if mine[0] >= self.per_address or total[0] >= self.overall:
            err = OAuth2Error("Too many wrong codes; wait a few minutes and try again.",
                              error="slow_down", status_code=429)
            err.retry_after = int(max(1, min(mine[1], total[1]) - now))
            raise err

    def wrong(self, address: str) -> None:
        now = self.clock()
        with self._lock:
            for table, key in ((self._wrong, address), (self._all, "all")):
                count, until = table.get(key, now) or (0, now + self.window)
                table.add(key, (count + 1, until), expires=until, now=now)


class DeviceGrant:
    """/oauth/device/code, the user's answer at /activate, and the device's polls."""

    def __init__(self, clients, grants, tokens, issuer, *, audience: str, clock, events,
                 interval: int = 5):
        self.clients, self.grants, self.tokens, self.issuer = clients, grants, tokens, issuer
        self.audience, self.clock, self.events = audience, clock, events
        self.interval = interval
        self.devices = DeviceStore(clock)
        self.guesses = GuessLimit(clock)

    # -- §3.1–3.2: the device asks -------------------------------------------------------
    def start(self, params: dict, authorization: str | None) -> dict:
        """The device's request: who it is, what it wants; the codes and where to go."""
        client = self.clients.authenticate(params, authorization)
        if client.client_id != self.clients.native_client_id:
            raise UnauthorizedClient("This client may not use the device grant.")
        audience = params.get("audience") or None
        if audience and audience != self.audience:
            raise AccessDenied(f"Service not found: {audience}")
        device_code, user_code, now = secrets.token_urlsafe(32), new_user_code(), self.clock()
        record = DeviceRecord(client.client_id, allowed_scope(params.get("scope", "")),
                              audience, user_code, created=now,
                              expires=now + DEVICE_CODE_TTL, interval=self.interval)
        self.devices.add(device_code, record)
        self.narrate_started(record)
        page = self.issuer.url("/activate")
        return {"device_code": device_code, "user_code": shown(user_code),
                "verification_uri": page,
                "verification_uri_complete": f"{page}?user_code={shown(user_code)}",
                "expires_in": DEVICE_CODE_TTL, "interval": self.interval}

    def narrate_started(self, record: DeviceRecord) -> None:
        e = self.events
        e.step(AS, DeviceStep.DEVICE_CODE)
        e.say(AS, f"device grant (RFC 8628 §3.2): client_id={record.client_id} asks for "
                  f"scope {record.scope!r}; stored a device code (kept as a hash)")
        e.show(AS, "user code", shown(record.user_code),
               f"the user types it at /activate; valid {DEVICE_CODE_TTL // 60} minutes, "
               f"polls every {record.interval} s")

    # -- §3.3: the user, in a browser ----------------------------------------------------
    def find_user_code(self, typed: str, address: str) -> DeviceRecord:
        """The pending login a typed code names; wrong codes are counted (§5.1)."""
        self.guesses.check(address)
        code = normalise_user_code(typed)
        record = self.devices.by_user_code(code) if code else None
        if record is None:
            self.guesses.wrong(address)
            self.events.check(AS, "device grant: a wrong or expired user code was typed",
                              ok=False)
            raise InvalidRequest("That code is not valid, or it has expired. Check the "
                                 "code your device shows and type it again.")
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
                          expires=min(now + TXN_TTL, record.expires))
        self.grants.add_transaction(txn)
        self.devices.bind(txn, record.user_code)
        return txn

    def is_device_login(self, txn) -> bool:
        return self.devices.user_code_of(txn.txn_id) is not None

    def user_code_shown(self, txn) -> str:
        """§3.3.1: the code again on the consent page, for the user to compare with the
        device (a link with the code filled in may come from someone else)."""
        code = self.devices.user_code_of(txn.txn_id)
        if code is None:
            raise InvalidRequest("This is not a device login.")
        return shown(code)

    def decide(self, txn, allow: bool) -> bool:
        """§3.3: the logged-in user approves or denies the device. False if already decided."""
        user_code = self.devices.user_code_of(txn.txn_id)
        if user_code is None or self.grants.take_transaction(txn.txn_id) is None:
            return False   # answered already (a second tab, a replayed form): once only
        status = APPROVED if allow else DENIED
        decided = self.devices.decide(user_code, lambda r: replace(
            r, status=status, user=txn.user, auth_time=txn.auth_time))
        if not decided:
            return False
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
        return self.tokens.issue(outcome, include_refresh=OFFLINE in outcome.scope.split())

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

    def new_grant(self, record: DeviceRecord, now: float) -> Grant:
        lifetime = GRANT_TTL if OFFLINE in record.scope.split() else ACCESS_TOKEN_TTL
        grant = Grant(secrets.token_urlsafe(12), record.client_id, record.user, record.scope,
                      record.audience, None, record.auth_time, expires=int(now) + lifetime)
        self.grants.add_grant(grant)
        return grant


def outcome_name(outcome) -> str:
    return outcome.error if isinstance(outcome, OAuth2Error) else "tokens issued"
