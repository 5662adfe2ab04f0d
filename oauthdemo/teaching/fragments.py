"""Small HTML fragments the teaching pages share: a value in <code>, a table of rows, a list
of checks, a time for people and machines.

Every helper returns ``Markup`` and escapes what it is given (``web.html``): a value from a
request, a token or a provider's answer can never become markup. The fragments' markup
lives in templates/partials/walk_*.html.
"""
from __future__ import annotations

import time

from oauthdemo.client.explain import human_duration
from oauthdemo.web.html import Markup, partial

NOTHING = Markup("")
# The words a screen reader says for a check's mark (the mark itself is aria-hidden).
CHECK_MARKS = {True: ("ok", "✔", "passed"), False: ("bad", "✘", "failed")}


def code(value, cls: str = "wrap", ident: str = "") -> Markup:
    if ident:
        return Markup('<code class="{}" id="{}">{}</code>').format(cls, ident, value)
    return Markup('<code class="{}">{}</code>').format(cls, value)


def rows_table(rows, caption: str = "") -> Markup:
    """rows: (name, value, note); a value that is not Markup is escaped like the rest."""
    cap = Markup("<caption>{}</caption>").format(caption) if caption else NOTHING
    body = NOTHING.join(partial("walk_kv_row.html", name=name, value=value, note=note_span(note))
                        for name, value, note in rows)
    return partial("walk_kv_table.html", caption=cap, rows=body)


def note_span(note: str) -> Markup:
    return Markup('<span class="note">{}</span>').format(note) if note else NOTHING


def note(text: str) -> Markup:
    """A paragraph of explanation under a step's values."""
    return Markup('<p class="note">{}</p>').format(text)


def section(title: str, body: Markup) -> Markup:
    return Markup('<div class="sub"><h4>{}</h4>{}</div>').format(title, body)


def pre_lines(lines, cls: str = "") -> Markup:
    return Markup('<pre class="wrap {}">{}</pre>').format(cls, "\n".join(str(x) for x in lines))


def request_block(heads, params, cls: str = "url", names=(), request: str = "") -> Markup:
    """A request as a learner reads it: its head lines, then one block per parameter with a
    hanging indent, so a long value breaks inside itself instead of dropping whole to the
    next line and leaving a blank one (the UI review at 360 px). Each block ends in a
    newline, so that copying the text still gives one parameter a line."""
    head = NOTHING.join(Markup('<span class="req-head">{}\n</span>').format(h) for h in heads)
    names = list(names) or [""] * len(params)   # data-param: app.js marks an edited one
    body = NOTHING.join(Markup('<span class="req-param"{}><span>{}</span>\n</span>').format(
        attribute("data-param", n), p) for n, p in zip(names, params))
    return Markup('<pre class="wrap request {}"{}>{}{}</pre>').format(
        cls, attribute("data-request", request), head, body)


def attribute(name: str, value: str) -> Markup:
    """ name="value" (escaped), or nothing for an empty value."""
    return Markup(' {}="{}"').format(name, value) if value else NOTHING


def check_list(items) -> Markup:
    """items: (ok, text). A tick or a cross, with words for screen readers."""
    return Markup('<ul class="checks">{}</ul>').format(
        NOTHING.join(check_item(ok, text) for ok, text in items))


def check_item(ok: bool, text: str) -> Markup:
    kind, mark, said = CHECK_MARKS[bool(ok)]
    return partial("walk_check.html", kind=kind, mark=mark, said=said, text=text)


def utc(ts: float) -> Markup:
    """<time> for a Unix time: words for people, ISO 8601 for machines."""
    moment = time.gmtime(ts)
    return Markup('<time datetime="{}">{}</time>').format(
        time.strftime("%Y-%m-%dT%H:%M:%SZ", moment), time.strftime("%Y-%m-%d %H:%M:%S UTC", moment))


def when(ts: float | None, now: float) -> Markup:
    if not isinstance(ts, (int, float)):
        return Markup.escape("unknown")
    rel = f"in {human_duration(ts - now)}" if ts > now else f"{human_duration(now - ts)} ago"
    return utc(ts) + Markup(' <span class="rel">({})</span>').format(rel)
