"""Safe HTML: every value inserted into a page is escaped, and every template fills.

``web.html.Markup`` follows markupsafe's rules: whatever it is formatted, joined or added
with is escaped first. The partials (templates/partials/*.html) escape what they are
filled with. Every template is filled by the code that uses it with every placeholder it
names (string.Template raises KeyError otherwise, which would be a 500 on that page).
"""
from __future__ import annotations

import ast
import fnmatch
import string
import unittest
from pathlib import Path
from unittest import mock

from oauthdemo.teaching import attacks, labpage
from oauthdemo.web import html as html_module
from oauthdemo.web.html import TEMPLATE_DIR, Markup, esc, partial
from oauthdemo.client.useragent import ScriptedBrowser

from .demo_fixtures import latest_session, log_in, start_test_demo

HOSTILE = '"><script>alert(1)</script>'
ESCAPED = "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
ROOT = Path(__file__).resolve().parents[1]
RUNTIME = [ROOT / "complete_oauth_demo.py", *sorted((ROOT / "oauthdemo").rglob("*.py"))]
FILLERS = {"render", "fill", "partial"}       # web.html / web.httpkit: name first, values after
RENDER_OWN = {"title", "status"}              # render() keeps these for the layout and response
MACHINERY = {ROOT / "oauthdemo" / "web" / "html.py"}   # partial() itself: fill(f"partials/{t}")


class MarkupRulesTest(unittest.TestCase):
    """markupsafe's rules: the other operand is escaped; Markup is never escaped twice."""

    def test_markup_format_escapes_its_arguments(self):
        self.assertEqual(Markup("<b>{}</b>").format(HOSTILE), f"<b>{ESCAPED}</b>")
        self.assertEqual(Markup("<b>{name}</b>").format(name=HOSTILE), f"<b>{ESCAPED}</b>")

    def test_markup_join_escapes_each_item(self):
        self.assertEqual(Markup("<br>").join(["<a>", Markup("<i>x</i>")]), "&lt;a&gt;<br><i>x</i>")

    def test_markup_add_escapes_the_other_side(self):
        self.assertEqual(Markup("<p>") + HOSTILE, f"<p>{ESCAPED}")
        self.assertEqual(HOSTILE + Markup("<p>"), f"{ESCAPED}<p>")
        self.assertIsInstance(HOSTILE + Markup("<p>"), Markup)

    def test_markup_is_not_escaped_twice(self):
        once = esc(HOSTILE)
        self.assertEqual(esc(once), once)
        self.assertEqual(Markup("{}").format(once), once)

    def test_operations_keep_the_type(self):
        for value in (Markup("{}").format(1), Markup("").join([]), Markup("a") + "b"):
            self.assertIsInstance(value, Markup)


class PartialTest(unittest.TestCase):

    def test_a_partial_escapes_a_hostile_value(self):
        row = partial("walk_kv_row.html", name=HOSTILE, value="<script>", note="")
        self.assertIn(ESCAPED, row)
        self.assertIn("&lt;script&gt;", row)
        self.assertNotIn("<script>", row)

    def test_a_hostile_value_cannot_leave_an_attribute(self):
        tile = partial("lab_tile.html", kind=HOSTILE, letter="a", name="n", status="s")
        self.assertIn(f'class="tile {ESCAPED}"', tile)

    def test_markup_values_are_inserted_as_they_are(self):
        row = partial("walk_kv_row.html", name="n", value=Markup("<code>x</code>"), note="")
        self.assertIn("<td><code>x</code></td>", row)

    def test_lab_cards_escape_what_came_back(self):
        """A provider's answer is shown on the card: it must stay text."""
        result = attacks.outcome(attacks.ATTACKS["a"], HOSTILE, [HOSTILE],
                                 {"request": HOSTILE, "status": 400, "raised": HOSTILE,
                                  "location": HOSTILE, "body": {"error": HOSTILE,
                                                                "error_description": HOSTILE}})
        accepted = attacks.accepted(attacks.ATTACKS["b"], HOSTILE, [HOSTILE], HOSTILE)
        needs = attacks.not_run(attacks.ATTACKS["g"], HOSTILE, action="login")
        for shown in (result, accepted, needs):
            card = labpage.attack_card(attacks.ATTACKS[shown["letter"]], shown, HOSTILE)
            self.assertNotIn("<script>", card)
            self.assertIn("&lt;script&gt;", card)


def template_names() -> set:
    return {str(p.relative_to(TEMPLATE_DIR)) for p in TEMPLATE_DIR.rglob("*.html")}


def placeholders(name: str) -> set:
    text = (TEMPLATE_DIR / name).read_text(encoding="utf-8")
    return {m.group("named") or m.group("braced")
            for m in string.Template.pattern.finditer(text) if m.group("named") or m.group("braced")}


def filler_calls():
    """(where, name pattern, keywords or None when a **mapping hides them) for each literal
    render/fill/partial call in the runtime code."""
    for path in RUNTIME:
        if path in MACHINERY:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            pattern = name_pattern(node.args[0])
            if func not in FILLERS or pattern is None:
                continue
            if func == "partial":
                pattern = "partials/" + pattern
            keywords = {k.arg for k in node.keywords}
            if func == "render":
                keywords -= RENDER_OWN
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            yield where, pattern, (None if None in keywords else keywords)


def name_pattern(arg) -> str | None:
    """A template name, or a glob for an f-string name (partial(f"walk_icon_{key}.html"))."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "*" for v in arg.values)
    return None


class EveryTemplateFillsTest(unittest.TestCase):
    """Read from the code: each call that fills a template names every placeholder."""

    def test_every_call_supplies_every_placeholder(self):
        names = template_names()
        for where, pattern, keywords in filler_calls():
            matched = fnmatch.filter(names, pattern)
            with self.subTest(call=where, template=pattern):
                self.assertTrue(matched, "no such template")
                for name in matched:
                    if keywords is not None:
                        self.assertEqual(placeholders(name) - keywords, set(), name)

    def test_every_template_is_filled_somewhere(self):
        used = set()
        for _, pattern, _ in filler_calls():
            used |= set(fnmatch.filter(template_names(), pattern))
        self.assertEqual(template_names() - used, set(), "templates no code fills")


class TeachingPagesFillTest(unittest.TestCase):
    """Run the teaching pages for a finished login and the attack lab after its attacks;
    record every template filled on the way. A missing value would raise KeyError."""

    def setUp(self):
        self.running, _ = start_test_demo()
        self.addCleanup(self.running.stop)

    def test_the_walkthrough_and_the_lab_fill_their_templates(self):
        filled = []
        real = html_module.load_template

        def recording(name):
            filled.append(name)
            return real(name)

        with mock.patch.object(html_module, "load_template", recording):
            before = ScriptedBrowser().get(self.running.app_url + "/walkthrough")
            halfway = ScriptedBrowser()
            halfway.get(self.running.app_url + "/login")          # a login still at the server
            during = halfway.get(self.running.app_url + "/walkthrough")
            browser = log_in(self.running)
            untried = browser.get(self.running.app_url + "/attacks")
            browser.get(self.running.app_url + "/api/protected")     # Step 10 shows its checks
            after = browser.get(self.running.app_url + "/walkthrough")
            lab = self.running.app.lab
            browser_id = next(c.value for c in browser.jar if c.name == "demo_browser")
            for letter in attacks.ATTACKS:
                lab.run(letter, browser_id, latest_session(self.running).tokens)
            attacked = browser.get(self.running.app_url + "/attacks")
        for page in (before, during, untried, after, attacked):
            self.assertEqual(page.status, 200, page.text[:300])
            self.assertNotRegex(page.text, r"\$[A-Za-z_{]")    # no placeholder left unfilled
        self.assertIn('id="step-10"', after.text)
        teaching = {n for n in template_names() if n.startswith(("partials/walk_", "partials/lab_"))}
        seldom = {"partials/lab_needs.html", "partials/lab_action_intercept.html",
                  "partials/lab_action_login.html", "partials/lab_verdict_accepted.html",
                  # a refused login, and the lab with an external provider: filled (and
                  # checked for placeholders) in tests/test_teaching_pages.py
                  "partials/walk_failure.html", "partials/walk_after_failure.html",
                  "partials/walk_refused.html", "partials/lab_code_source.html"}
        self.assertEqual(teaching - seldom - set(filled), set())   # seldom: PartialTest's cards


if __name__ == "__main__":
    unittest.main()
