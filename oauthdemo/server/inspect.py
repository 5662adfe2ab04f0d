"""Read-only records for the teaching pages: what the server stored at Steps 4, 5 and 8,
and the latest device login (RFC 8628) with its polls.

No RFC: this is the demo's window into the authorization server (RFC 6749 §4.1.1's
stored request, §4.1.2's code, RFC 7636 §4.6's check), so the walkthrough can show the
server's side next to the app's. Every record handed out is frozen: a page can neither
change the server's state nor see it change under it, and nobody outside the store
takes the server's lock or reads its tables.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass

import pkce


@dataclass(frozen=True)
class Truth:
    """What the server knows about one failed request, for the error forensics
    (``teaching.forensics``): the code's record (live, or expired but not yet dropped),
    the registered redirect URIs, and whether a verifier belongs to another login."""
    now: float
    code: object = None                  # the live CodeRecord, or None
    expired_code: object = None          # the CodeRecord of a code past its 10 minutes
    redirect_uris: tuple = ()            # registered for the client, exact strings
    verifier_of_other_login: bool = False
    state_waiting: bool = False          # the state's login still waits at /authorize
    # The client's own redirect_uri check (Client.accepts_redirect) passed for the one sent:
    # exact strings, or a native client's loopback on any port (RFC 8252 §7.3).
    redirect_uri_accepted: bool = False


class Inspector:
    """``auth.inspect``: snapshots of the grant store, looked up the way a page needs them."""

    def __init__(self, store, clients=None, devices=None):
        self._store = store
        self._clients = clients
        self._devices = devices   # server.device.DeviceHistory: frozen DeviceLogin snapshots

    def latest_device_login(self):
        """RFC 8628: the latest device login of this run (a frozen snapshot), or None."""
        return self._devices.latest() if self._devices is not None else None

    def transaction_for_state(self, state: str | None):
        """The stored request of the login with this state, while it waits for its user."""
        return self._store.transaction_with_state(state) if state else None

    def code_record(self, code: str | None):
        """The record of an issued code (its challenge, whether it was used)."""
        return self._store.code(code) if code else None

    def pkce_record(self, challenge: str | None):
        """The server's Step 8 for the code bound to this challenge, once it has run."""
        return self._store.pkce_record(challenge) if challenge else None

    def code_records(self) -> tuple:
        return tuple(self._store.codes())

    def pkce_records(self) -> tuple:
        return tuple(self._store.pkce_records())

    def grants(self) -> tuple:
        """Live grants, the one changed most recently last."""
        return tuple(self._store.grants())

    def truth(self, *, code: str | None = None, client_id: str | None = None,
              verifier: str | None = None, state: str | None = None,
              redirect_uri: str | None = None) -> Truth:
        """The server's side of a failed request, read-only (the forensics' ``truth``)."""
        record = self.code_record(code)
        client = self._clients.get(client_id) if (self._clients and client_id) else None
        return Truth(now=self._store.now(), code=record,
                     expired_code=None if record or not code else self._store.expired_code(code),
                     redirect_uris=tuple(client.redirect_uris) if client else (),
                     verifier_of_other_login=self._other_login(record, verifier),
                     state_waiting=self.transaction_for_state(state) is not None,
                     redirect_uri_accepted=bool(client and isinstance(redirect_uri, str)
                                                and client.accepts_redirect(redirect_uri)))

    def _other_login(self, record, verifier: str | None) -> bool:
        """Does SHA-256(verifier) match the challenge of a code other than this one?"""
        if not pkce.is_well_formed_verifier(verifier):
            return False
        challenge = pkce.make_challenge(verifier)
        return any(same(r.challenge, challenge) for r in self._store.codes()
                   if record is None or not same(r.challenge, record.challenge))


def same(a: str, b: str) -> bool:
    """Challenges compared in constant time, as RFC 7636 §4.6's own check compares them
    (pkce.recompute_and_compare): a page's lookup must not become a timing oracle."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
