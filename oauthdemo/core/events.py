"""Typed events: what each protocol step did, with the values a learner needs.

Security code does not write to the console. It emits an event (``PkceChecked(stored,
recomputed, ok)``, ``Shown("code_verifier", …)``) on an ``EventBus``; subscribers turn
events into what a learner sees: the console narrator (``teaching.narrator``), and
anything else that wants the story (the benchmarks' recorder, a test's list).

Every text value is made printable once, here, when the event is created
(``core.text.printable``): a subscriber never sees a raw control character from a
request or a provider. Colour is the terminal renderer's business, applied last.
"""
from __future__ import annotations

import threading
from dataclasses import FrozenInstanceError, dataclass, fields

from oauthdemo.core.steps import Step
from oauthdemo.core.text import mask_secret, printable

PLAIN, TOKEN, SECRET = "plain", "token", "secret"   # how a Shown value may be displayed


def _clean(value):
    """The one place event values are sanitised (strings, and strings inside containers)."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, tuple):
        return tuple(_clean(item) for item in value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    return value


@dataclass(eq=False)
class Event:
    """Base of every event: who acted ("your app", "authorization server", …).

    Immutable once made: every subscriber sees exactly what was emitted. The base enforces
    it (``__setattr__`` below) instead of ``frozen=True`` on each class, because a frozen
    dataclass costs about three times as much to define, and start-up imports them all.
    Subclasses are ``@dataclass(eq=False)``: two events are never "equal", each happened."""
    actor: str

    def __post_init__(self):
        for f in fields(self):
            object.__setattr__(self, f.name, _clean(getattr(self, f.name)))
        object.__setattr__(self, "_sealed", True)

    def __setattr__(self, name, value):
        if getattr(self, "_sealed", False):
            raise FrozenInstanceError(f"cannot assign to field {name!r}: events are immutable")
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}: events are immutable")


@dataclass(eq=False)
class StepStarted(Event):
    """A login reached a step. ``flow`` tags one login (the state's first characters);
    ``context`` says whose variant it is ("the CLI", "the mobile app's backend")."""
    step: Step
    flow: str = ""
    context: str = ""


@dataclass(eq=False)
class AttackStarted(Event):
    """The attack lab runs one attack (a letter of /attacks)."""
    letter: str
    title: str


@dataclass(eq=False)
class Said(Event):
    """A sentence of the story (a redirect, a decision, what happens next)."""
    text: str


@dataclass(eq=False)
class Shown(Event):
    """A value on the wire: tokens are abbreviated unless --show-tokens. A SECRET is masked
    here, when the event is made: no subscriber (a log, a HAR export) ever holds it."""
    label: str
    value: object
    note: str = ""
    kind: str = PLAIN

    def __post_init__(self):
        if self.kind == SECRET:
            object.__setattr__(self, "value", mask_secret(self.value))
        super().__post_init__()


@dataclass(eq=False)
class Checked(Event):
    """One check and its outcome: a ✔ or ✘ line."""
    what: str
    ok: bool = True


@dataclass(eq=False)
class PkceChecked(Event):
    """RFC 7636 §4.6: the server recomputed the challenge from the verifier it received."""
    verifier: str
    stored: str
    recomputed: str
    ok: bool


class EventBus:
    """Hands each event to every subscriber, in order. Cheap when nobody listens."""

    def __init__(self, *subscribers):
        self._subscribers = list(subscribers)
        self._lock = threading.Lock()

    def subscribe(self, subscriber):
        with self._lock:
            self._subscribers = [*self._subscribers, subscriber]
        return subscriber

    def emit(self, event: Event) -> None:
        for subscriber in self._subscribers:   # a copy-on-write list: no lock needed here
            subscriber(event)

    # Shorthands for the common events, so an emitting line reads like the story.
    def step(self, actor: str, step: Step, *, flow: str | None = "", context: str = ""):
        self.emit(StepStarted(actor, step, flow or "", context))

    def say(self, actor: str, text: str):
        self.emit(Said(actor, text))

    def show(self, actor: str, label: str, value, note: str = "", *, kind: str = PLAIN):
        self.emit(Shown(actor, label, value, note, kind))

    def check(self, actor: str, what: str, ok: bool = True):
        self.emit(Checked(actor, what, ok))


class Recorder:
    """A subscriber that keeps every event: for tests and the benchmarks."""

    def __init__(self):
        self.events: list = []

    def __call__(self, event: Event):
        self.events.append(event)

    def of(self, kind) -> list:
        return [e for e in self.events if isinstance(e, kind)]


@dataclass(eq=False)
class TokenIssued(Event):
    """A component issued a token of its own (the mobile backend's session token): a ✔ line
    ending with the token, abbreviated unless --show-tokens."""
    what: str
    token: str


@dataclass(eq=False)
class CodeIssued(Event):
    """RFC 6749 §4.1.2: the server issued a one-time code, bound to a PKCE challenge."""
    code: str
    challenge: str
    lifetime: int          # seconds


@dataclass(eq=False)
class Announced(Event):
    """Lines the person running a command must see even with --quiet: where to go next
    (the URL to open in a browser), which authorization server a command uses."""
    lines: tuple
