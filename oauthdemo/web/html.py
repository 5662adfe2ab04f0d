"""Safe HTML: every value is escaped unless our own code built it as ``Markup``.

``Markup`` follows markupsafe's rules in a few lines of the standard library: a Markup
string joined, formatted or added to anything else escapes that other thing first, so
``Markup("<b>{}</b>").format(name)`` and ``Markup(", ").join(names)`` are safe whatever
``name`` holds. A plain ``str`` is never trusted: it is escaped wherever it meets HTML.

Templates (``templates/*.html``, ``templates/partials/*.html``) are ``string.Template``
files, read once, filled by ``render`` and ``partial`` with escaped values.
"""
from __future__ import annotations

import functools
import html
from pathlib import Path
from string import Template

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"


class Markup(str):
    """HTML we vouch for. Operations with other values escape those values."""

    __slots__ = ()

    def __html__(self) -> "Markup":
        return self

    @classmethod
    def escape(cls, value) -> "Markup":
        if isinstance(value, Markup) or hasattr(value, "__html__"):
            return cls(value.__html__())
        return cls(html.escape("" if value is None else str(value), quote=True))

    def __add__(self, other) -> "Markup":
        return Markup(str.__add__(self, Markup.escape(other)))

    def __radd__(self, other) -> "Markup":
        return Markup(str.__add__(Markup.escape(other), self))

    def join(self, iterable) -> "Markup":
        return Markup(str.join(self, (Markup.escape(item) for item in iterable)))

    def format(self, *args, **kwargs) -> "Markup":
        return Markup(str.format(self, *(Markup.escape(a) for a in args),
                                 **{k: Markup.escape(v) for k, v in kwargs.items()}))

    def __mod__(self, values) -> "Markup":
        if isinstance(values, tuple):
            return Markup(str.__mod__(self, tuple(Markup.escape(v) for v in values)))
        return Markup(str.__mod__(self, Markup.escape(values)))

    def __repr__(self) -> str:
        return f"Markup({str.__repr__(self)})"


def esc(value) -> Markup:
    """The one escaping helper: every value inserted into HTML goes through here."""
    return Markup.escape(value)


@functools.lru_cache(maxsize=None)
def load_template(name: str) -> Template:
    """Read once: templates do not change while the demo runs."""
    return Template((TEMPLATE_DIR / name).read_text(encoding="utf-8"))


def fill(template: str, /, **values) -> Markup:
    """One template with every value escaped (a Markup value is inserted as it is)."""
    return Markup(load_template(template).substitute({k: esc(v) for k, v in values.items()}))


def partial(template: str, /, **values) -> Markup:
    """A repeated fragment from templates/partials/."""
    return fill(f"partials/{template}", **values)
