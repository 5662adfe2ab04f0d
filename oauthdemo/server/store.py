"""The grant store: the one seam between the protocol code and the server's memory.

Everything the embedded server remembers lives here, behind one lock: authorization
requests waiting for their user (RFC 6749 §4.1.1), issued codes (§4.1.2: single use, at
most 10 minutes, kept until they expire so a reuse is recognised), grants and the
generation of their refresh token (§6, RFC 9700 §4.14.2 rotation), single revoked access
tokens (RFC 7009 §2.2), and the PKCE checks the teaching pages show (RFC 7636 §4.6).

Records are frozen: a change replaces the record under the lock, so whatever a caller
holds is a consistent snapshot that nobody else can change under it. Every read-modify-
write that a race could split (redeeming a code, rotating a refresh token) is one method
here; the grant modules pass in the checks (``check``) that decide, and raise, inside it.
Tables that requests can fill are bounded (``Limits``) and refuse newcomers when full.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, replace

from oauthdemo.core.records import Record
from oauthdemo.core.tables import BoundedTable, ExpiringTable

TABLE_NAMES = ("transactions", "codes", "grants", "revoked")


@dataclass
class Limits(Record):   # immutable: see core.records
    """Table caps. Tables anyone can fill (a public client, one click) refuse new entries
    when full, with a 503; they never evict, so a flood cannot push out a victim's request
    or a revocation. Injectable, so a test of the bound stays small."""
    transactions: int = 2000     # authorization requests waiting for their user
    codes: int = 5000            # issued codes, kept until they expire (reuse detection)
    grants: int = 20000
    revoked: int = 50000         # single revoked access tokens, each kept until its own exp
    pkce_log: int = 500          # the teaching pages' records of Step 8 (display only)


@dataclass
class CodeRecord(Record):   # immutable: see core.records
    """Step 5: an issued authorization code and the challenge it is bound to."""
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    nonce: str | None
    audience: str | None
    user: str
    auth_time: float
    created: float
    expires: float
    used: bool = False
    grant_id: str | None = None
    flow: str = ""                 # the request's state, first characters: the console's tag


@dataclass
class Grant(Record):   # immutable: see core.records
    """One user's consent to one client, and every token descended from its code.

    Access tokens carry the grant id (claim ``grant_id``) and refresh tokens are built
    from it, so revoking the grant kills all of them at once, for as long as they would
    have lived. A rotation bumps ``generation``: any older refresh token of this grant is
    a stale copy (reuse), however many rotations ago it was current.
    """
    grant_id: str
    client_id: str
    user: str
    scope: str
    audience: str | None
    nonce: str | None
    auth_time: float
    expires: int
    generation: int = 0
    revoked: bool = False


@dataclass
class PkceRecord(Record):   # immutable: see core.records
    """Step 8 as the server saw it: what the teaching pages show next to the console."""
    stored_challenge: str
    verifier: str
    recomputed: str
    match: bool
    at: float


def token_hash(token: str) -> str:
    """Codes are looked up by hash: a leaked table leaks no usable codes."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class GrantStore:
    """The server's tables and their lock. Nothing outside this class touches either."""

    def __init__(self, clock, limits: Limits = Limits()):
        self._clock = clock
        self._lock = threading.RLock()   # re-entrant: a check may revoke inside a redemption
        self._txns = ExpiringTable(limits.transactions, "authorization requests waiting for a user")
        self._codes = ExpiringTable(limits.codes, "authorization codes")
        self._grants = ExpiringTable(limits.grants, "grants")
        self._revoked = ExpiringTable(limits.revoked, "revoked access tokens")
        self._pkce = BoundedTable(limits.pkce_log)

    def _tables(self) -> dict:
        return dict(zip(TABLE_NAMES, (self._txns, self._codes, self._grants, self._revoked)))

    # -- housekeeping ------------------------------------------------------------------
    def set_limits(self, **caps: int) -> None:
        """Change table caps on a running server (tests of the bounds): ``codes=1``."""
        with self._lock:
            for name, cap in caps.items():
                self._tables()[name].limit = cap

    def sizes(self) -> dict:
        """How many entries each table holds, expired ones not yet pruned included."""
        with self._lock:
            return {name: len(table) for name, table in self._tables().items()}

    def prune(self) -> None:
        """Drop what has expired, so memory holds only what can still be used."""
        now = self._clock()
        with self._lock:
            for table in self._tables().values():
                table.prune(now)

    # -- authorization requests (RFC 6749 §4.1.1) ------------------------------------------
    def add_transaction(self, txn) -> None:
        with self._lock:
            self._txns.add(txn.txn_id, txn, expires=txn.expires, now=txn.created)

    def transaction(self, txn_id: str):
        with self._lock:
            return self._txns.get(txn_id, self._clock())

    def transaction_with_state(self, state: str):
        with self._lock:
            return next((t for t in self._txns.values(self._clock()) if t.state == state), None)

    def replace_transaction(self, txn) -> None:
        """The same request, now with its user (a login replaces the record)."""
        now = self._clock()
        with self._lock:
            if self._txns.get(txn.txn_id, now) is not None:
                self._txns.add(txn.txn_id, txn, expires=txn.expires, now=now)

    def take_transaction(self, txn_id: str):
        """Remove the request: consent was given or refused, it cannot be answered twice."""
        with self._lock:
            return self._txns.pop(txn_id, self._clock())

    # -- authorization codes (RFC 6749 §4.1.2, §4.1.3) -------------------------------------
    def add_code(self, code: str, record: CodeRecord) -> None:
        with self._lock:
            self._codes.add(token_hash(code), record, expires=record.expires, now=record.created)

    def code(self, code: str) -> CodeRecord | None:
        with self._lock:
            return self._codes.get(token_hash(code), self._clock())

    def codes(self) -> list:
        with self._lock:
            return self._codes.values(self._clock())

    def expired_code(self, code: str) -> CodeRecord | None:
        """Read-only, for the error forensics: a code past its expiry that the table has
        not dropped yet (it is refused all the same: ``code`` counts it as absent)."""
        now = self._clock()
        with self._lock:
            record = self._codes.get(token_hash(code), float("-inf"))
        return record if record is not None and record.expires <= now else None

    def now(self) -> float:
        return self._clock()

    def redeem_code(self, code: str, check, new_grant) -> Grant:
        """Single use, atomically: look the code up, let ``check(record, now)`` refuse it,
        store the grant ``new_grant(record, now)`` makes of it, and mark the code used. Of
        two racing redemptions one wins; the other finds the code used (a reuse)."""
        now, key = self._clock(), token_hash(code)
        with self._lock:
            record = self._codes.get(key, now)
            check(record, now)
            grant = new_grant(record, now)
            self._grants.add(grant.grant_id, grant, expires=grant.expires, now=now)
            self._codes.add(key, replace(record, used=True, grant_id=grant.grant_id),
                            expires=record.expires, now=now)
        return grant

    # -- grants and refresh token generations (RFC 6749 §6, RFC 9700 §4.14.2) --------------
    def grant(self, grant_id: str) -> Grant | None:
        with self._lock:
            return self._grants.get(grant_id, self._clock())

    def grants(self) -> list:
        with self._lock:
            return self._grants.values(self._clock())

    def rotate(self, grant_id: str, check) -> Grant:
        """One refresh, atomically: ``check(grant)`` refuses (and may revoke), else the
        generation moves on. Of two racing uses of one token, the second is the reuse."""
        now = self._clock()
        with self._lock:
            grant = self._grants.get(grant_id, now)
            check(grant)
            rotated = replace(grant, generation=grant.generation + 1)
            self._grants.add(grant_id, rotated, expires=rotated.expires, now=now)
        return rotated

    def add_grant(self, grant: Grant) -> None:
        """A grant that no code redeems: a device approved (RFC 8628) or a service's own."""
        now = self._clock()
        with self._lock:
            self._grants.add(grant.grant_id, grant, expires=grant.expires, now=now)

    def grant_alive(self, grant_id) -> bool:
        """Known here, unexpired and not revoked: what a token's signature cannot tell."""
        grant = self.grant(grant_id) if isinstance(grant_id, str) else None
        return grant is not None and not grant.revoked

    def revoke_grant(self, grant_id: str | None) -> bool:
        """Mark the grant revoked (kept until it expires: its tokens check it). True if this
        call revoked it, False if it was unknown or revoked already."""
        now = self._clock()
        with self._lock:
            grant = self._grants.get(grant_id, now) if grant_id else None
            if grant is None or grant.revoked:
                return False
            self._grants.add(grant_id, replace(grant, revoked=True), expires=grant.expires,
                             now=now)
        return True

    # -- single revoked access tokens (RFC 7009 §2.2) -------------------------------------
    def revoke_access_token(self, jti: str, expires: float) -> None:
        """Remembered until the token's own exp; raises TableFull rather than forget one."""
        now = self._clock()
        with self._lock:
            self._revoked.add(jti, True, expires=expires, now=now)

    def access_token_revoked(self, jti: str) -> bool:
        with self._lock:
            return self._revoked.get(jti, self._clock()) is not None

    # -- the PKCE checks, for the teaching pages (display only) ----------------------------
    def record_pkce(self, record: PkceRecord) -> None:
        with self._lock:
            self._pkce.put(record.stored_challenge, record)

    def pkce_record(self, challenge: str) -> PkceRecord | None:
        with self._lock:
            return self._pkce.get(challenge)

    def pkce_records(self) -> list:
        with self._lock:
            return list(self._pkce.values())
