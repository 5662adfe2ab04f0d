"""Bounded tables for state that anonymous requests can create (no RFC: the Security BCP's
advice that a server must survive floods, RFC 9700 §4.15 on resource exhaustion in spirit).

Two kinds, for two jobs:

* ``ExpiringTable`` holds state someone depends on: a login waiting for its callback, an
  authorization request waiting for the user, a session, a grant, a revocation. Entries
  leave only when their own time is up. When the table is full, a NEW entry is refused
  with ``TableFull`` (503 + Retry-After): evicting the oldest instead would let anyone who
  can send 5,000 requests push out a victim's in-flight login, or make the server forget
  that a token was revoked.
* ``BoundedTable`` holds what is only ever shown (the teaching pages' records): losing the
  oldest entry costs nothing but a picture, so it simply drops it.

Neither locks: each owner already holds its own lock around a read-modify-write.
"""
from __future__ import annotations

from collections import OrderedDict

from oauthdemo.core.errors import TableFull


class ExpiringTable:
    """key → value, each entry with its own expiry time; full means "refuse", never "evict"."""

    def __init__(self, limit: int, what: str):
        self.limit = limit
        self.what = what                       # "logins waiting for their callback", …
        self._entries: OrderedDict = OrderedDict()   # key → (expires, value), oldest first

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key, now: float):
        """The live value for ``key``, or None (expired entries count as absent)."""
        entry = self._entries.get(key)
        if entry is None or entry[0] <= now:
            return None
        return entry[1]

    def pop(self, key, now: float):
        """Remove and return the live value for ``key`` (None if absent or expired)."""
        entry = self._entries.pop(key, None)
        if entry is None or entry[0] <= now:
            return None
        return entry[1]

    def add(self, key, value, *, expires: float, now: float) -> None:
        """Insert, after dropping what has expired; raise TableFull rather than evict."""
        self.prune(now)
        if key not in self._entries and len(self._entries) >= self.limit:
            self.prune(now, thorough=True)
            if len(self._entries) >= self.limit:
                raise TableFull(f"Too many {self.what} at once; try again shortly.",
                                retry_after=self.retry_after(now))
        self._entries[key] = (expires, value)
        self._entries.move_to_end(key)

    def extend(self, key, expires: float) -> None:
        """A sliding expiry (a session kept alive by use): the entry moves to the newest end."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries[key] = (max(entry[0], expires), entry[1])
            self._entries.move_to_end(key)

    def prune(self, now: float, thorough: bool = False) -> None:
        """Drop expired entries: from the oldest end until a live one (cheap, every call),
        or all of them (``thorough``, only when the table looks full)."""
        if thorough:
            for key in [k for k, (expires, _) in self._entries.items() if expires <= now]:
                del self._entries[key]
            return
        while self._entries:
            expires, _ = next(iter(self._entries.values()))
            if expires > now:
                break
            self._entries.popitem(last=False)

    def retry_after(self, now: float) -> int:
        """Seconds until the soonest entry expires and frees a place: the honest answer,
        however long that is."""
        soonest = min(expires for expires, _ in self._entries.values())
        return int(max(1, soonest - now))

    def values(self, now: float) -> list:
        return [value for expires, value in self._entries.values() if expires > now]

    def items(self, now: float) -> list:
        return [(key, value) for key, (expires, value) in self._entries.items() if expires > now]


class BoundedTable(OrderedDict):
    """Display-only records: an insertion-ordered dict that drops its oldest past ``limit``."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit

    def put(self, key, value):
        self[key] = value
        while len(self) > self.limit:
            self.popitem(last=False)
