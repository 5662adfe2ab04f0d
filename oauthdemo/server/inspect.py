"""Read-only records for the teaching pages: what the server stored at Steps 4, 5 and 8.

No RFC: this is the demo's window into the authorization server (RFC 6749 §4.1.1's
stored request, §4.1.2's code, RFC 7636 §4.6's check), so the walkthrough can show the
server's side next to the app's. Every record handed out is frozen: a page can neither
change the server's state nor see it change under it, and nobody outside the store
takes the server's lock or reads its tables.
"""
from __future__ import annotations


class Inspector:
    """``auth.inspect``: snapshots of the grant store, looked up the way a page needs them."""

    def __init__(self, store):
        self._store = store

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
