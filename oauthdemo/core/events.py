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
import urllib.parse
from dataclasses import FrozenInstanceError, dataclass, fields

from oauthdemo.core.steps import Step
from oauthdemo.core.text import CONTROL, mask_secret, printable

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


HTTP_BODY_KEPT = 8 * 1024      # bytes of a body an HttpExchange keeps (the rest is only counted)
CLIENT_SECRET_FIELDS = (b"client_secret",)   # form fields that are a client's password
UNREADABLE_SECRET_BODY = b"(not kept: it names client_secret and is not a form to mask)"


def kept_body(body: bytes, content_type: str) -> bytes:
    """What an HttpExchange keeps of a body: a bounded copy, and nothing of an HTML page
    (a page can carry a token or a form token woven into markup no mask could find)."""
    if content_type.split(";")[0].strip().lower() == "text/html":
        return b""
    return bytes(body[:HTTP_BODY_KEPT])


@dataclass(eq=False)
class HttpExchange(Event):
    """One HTTP request and its answer, as a server received and answered it (``channel``
    "front": the browser's hops) or as the client sent it (``channel`` "back": discovery,
    JWKS, token, userinfo, introspection). Headers are (name, value) pairs.

    Bodies stay bytes: they are shown escaped on a page or as JSON in a HAR file, never
    printed on a terminal. Client credentials (RFC 6749 §2.3.1: ``Authorization: Basic``
    and a ``client_secret`` form field) are masked here, when the event is made, so no
    subscriber ever holds them; other secrets (codes, tokens, cookies) are the subscriber's
    to mask, since the learner may reveal them on their own login's page."""
    channel: str
    method: str
    url: str
    request_headers: tuple
    request_body: bytes
    status: int
    response_headers: tuple
    response_body: bytes
    response_size: int
    started: float              # seconds since the epoch
    duration: float             # seconds
    thread: int = 0             # which thread served or sent it: ties a back-channel call
                                # to the browser request it was made for

    def __post_init__(self):
        # The base's field-by-field cleaning, made cheap for the many header pairs: every
        # request of every server makes one of these (the login must not slow down).
        keep = object.__setattr__
        keep(self, "request_headers", printable_pairs(
            (name, mask_basic(value) if name.lower() == "authorization" else value)
            for name, value in self.request_headers))
        keep(self, "response_headers", printable_pairs(self.response_headers))
        keep(self, "request_body", mask_client_secret(self.request_body))
        for name in ("actor", "channel", "method", "url"):
            keep(self, name, printable(getattr(self, name)))
        keep(self, "_sealed", True)


def printable_pairs(pairs) -> tuple:
    """(name, value) pairs made printable: one scan of them all; pair by pair only if needed."""
    pairs = tuple((str(name), str(value)) for name, value in pairs)
    if CONTROL.search("".join(name + value for name, value in pairs)) is None:
        return pairs
    return tuple((printable(name), printable(value)) for name, value in pairs)


def mask_basic(value: str) -> str:
    """``Basic base64(id:secret)`` carries the client secret: never kept, not even encoded."""
    scheme, _, credentials = value.partition(" ")
    return f"{scheme} {mask_secret(credentials)}" if scheme.lower() == "basic" else value


def mask_client_secret(body: bytes) -> bytes:
    """A form body's client_secret, masked (the cheap test first: most bodies have none).
    Names are read decoded, as the server reads them: client%5Fsecret is client_secret."""
    if not names_client_secret(body):
        return body
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                                       strict_parsing=True)
    except (UnicodeDecodeError, ValueError):   # JSON, or a mangled form: the whole body goes
        return UNREADABLE_SECRET_BODY
    return urllib.parse.urlencode([(k, mask_secret(v) if k.encode() in CLIENT_SECRET_FIELDS
                                    else v) for k, v in pairs]).encode("utf-8")


def names_client_secret(body: bytes) -> bool:
    """Does the body name a client secret, literally or percent-encoded?"""
    if any(name in body for name in CLIENT_SECRET_FIELDS):
        return True
    return b"%" in body and any(name in urllib.parse.unquote_to_bytes(body)
                                for name in CLIENT_SECRET_FIELDS)
