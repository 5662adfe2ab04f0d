"""The attack lab's page: one card per attack, what came back, and the rule that stopped it.

The attacks themselves run in ``teaching.attacks``; this module only draws their result
dicts. Every value is escaped (``web.html.Markup``); the markup lives in
templates/partials/lab_*.html.
"""
from __future__ import annotations

import json

from oauthdemo.teaching import attacks
from oauthdemo.teaching.fragments import NOTHING, pre_lines
from oauthdemo.web.html import Markup, partial

COUNT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
               "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen")


def count_words() -> tuple:
    """("Eleven", "eleven"): how many attacks there are, in words, for the page's prose."""
    n = len(attacks.ATTACKS)
    word = COUNT_WORDS[n] if n < len(COUNT_WORDS) else str(n)
    return word[0].upper() + word[1:], word

def scoreboard(results: dict) -> Markup:
    ran = [r for r in results.values() if r["ran"]]
    stopped = sum(1 for r in ran if r["rejected"])
    total = len(attacks.ATTACKS)
    if not ran:
        text = f"{total} attacks ready. None run yet in this browser."
    else:
        text = f"{len(ran)} of {total} run · {stopped} stopped"
        if stopped < len(ran):
            text += f" · {len(ran) - stopped} NOT stopped"
    good = " all-stopped" if ran and stopped == len(ran) else ""
    return partial("lab_scoreboard.html", all_stopped=good, text=text)


def summary(results: dict) -> Markup:
    """The attacks at a glance: the slide to show after "Run all"."""
    return partial("lab_summary.html", tiles=NOTHING.join(
        tile(spec, results.get(spec.letter)) for spec in attacks.ATTACKS.values()))


def tile(spec, result: dict | None) -> Markup:
    if result is None or not result["ran"]:
        kind, status = "idle", "not run yet" if result is None else "needs a code or a login"
    elif result["rejected"]:
        kind, status = "stopped", f"✔\u00a0{result['error']}"
    else:
        kind, status = "through", "✘ NOT stopped"
    return partial("lab_tile.html", kind=kind, letter=spec.letter, name=spec.short, status=status)


def code_source(lab, browser: str) -> Markup:
    """Where the stolen codes come from: a login the lab drives, or one it intercepts."""
    waiting = lab.codes_waiting(browser)
    letters = [a.letter for a in attacks.ATTACKS.values() if a.needs == "code"]
    need = (f"Attacks {', '.join(letters[:-1])} and {letters[-1]} need an authorization code "
            "nobody has redeemed.")
    if lab.embedded:   # the lab drives its own login: no button to intercept one
        return partial("lab_code_source_embedded.html", text=(
            f"{need} The lab gets one the way an attacker would: it drives a login at the "
            "embedded server as Alice and keeps the code from the redirect before the app "
            "can use it. Nothing to do here: press an attack's button."))
    text = (f"{need} Log in with interception: the app checks the callback's state as "
            "usual, then leaves the code to the lab instead of redeeming it. One login, "
            "one code.")
    return partial("lab_code_source.html", text=text, flag=attacks.INTERCEPT_FLAG,
                   waiting=waiting, plural="" if waiting == 1 else "s")


def attack_card(spec, result: dict | None, token: str) -> Markup:
    return partial("lab_card.html", letter=spec.letter, title=spec.title, tries=spec.tries,
                   defence=spec.defence, rule_url=spec.rule_url, rule_label=spec.rule_label,
                   form_token=token,
                   outcome=result_html(result) if result else partial("lab_not_run.html"))


def result_html(result: dict) -> Markup:
    if not result["ran"]:
        return partial("lab_needs.html", why=result["stopped_by"],
                       action=action_link(result.get("action", "")))
    facts = [("What came back", response_html(result["response"])),
             ("What stopped it", result["stopped_by"]),
             ("The rule", partial("lab_rule.html", url=result["rule_url"],
                                  label=result["rule_label"], rule=result["rule"]))]
    if result.get("why"):   # a claim attack: why that claim is checked, as the console says it
        claim, _, why = result["why"].partition(": ")
        facts.append((f"Why the app checks {claim}", why))
    facts += [(x["label"], revocation_tag(x) + response_html(x)) for x in result.get("extra", [])]
    return partial("lab_result.html", verdict=verdict_html(result),
                   facts=NOTHING.join(Markup("<dt>{}</dt><dd>{}</dd>").format(name, value)
                                      for name, value in facts),
                   tried=result["tried"], sent=pre_lines(result["sent"]))


def action_link(action: str) -> Markup:
    """What the learner can do so that an attack that could not run can: log in, or log in
    and let the lab intercept the code."""
    if action == "intercept":
        return partial("lab_action_intercept.html", flag=attacks.INTERCEPT_FLAG)
    if action == "login":
        return partial("lab_action_login.html")
    return NOTHING


def revocation_tag(check: dict) -> Markup:
    """Only a 200 means the token still works; another failure (a 502) proves nothing."""
    if check["revoked"]:
        return partial("lab_tag.html", kind=" ok", text="✔ revoked")
    if check.get("works", True):
        return partial("lab_tag.html", kind=" bad", text="✘ still works")
    return partial("lab_tag.html", kind="", text="no answer about it")


def verdict_html(result: dict) -> Markup:
    resp = result["response"]
    if not result["rejected"]:
        return partial("lab_verdict_accepted.html")
    how = " · refused by " + refuser(resp) if resp.get("raised") else ""
    how += " · a redirect, the error in its query" if resp.get("location") else ""
    return partial("lab_verdict_rejected.html", error=result["error"], status=resp.get("status"),
                   raised=how, condition=condition_html(result.get("condition")))


def condition_html(condition: str | None) -> Markup:
    """A defence that holds only if a person acts (attack m: the user reads and denies)."""
    if not condition:
        return NOTHING
    return Markup('<span class="condition" data-condition="yes">, {}</span>').format(condition)


def refuser(resp: dict) -> str:
    """Who refused a check the app ran itself, in a learner's words: the part of the request
    in brackets ("the app's /callback"), never the code's own names."""
    request = str(resp.get("request", ""))
    return request[request.find("(") + 1:request.rfind(")")] if "(" in request else "the app"


def response_html(resp: dict) -> Markup:
    if resp.get("raised"):   # checked in the app itself: what it refused, and the HTTP answer
        lines = [f"{refuser(resp)} → refused: HTTP {resp.get('status')}"]
    else:
        lines = [f'{resp.get("request", "")} → HTTP {resp.get("status")}']
    if resp.get("location"):
        lines.append(f"Location: {resp['location']}")
    body = json.dumps(resp.get("body", {}), indent=2, ensure_ascii=False)
    return pre_lines(lines + [body], "response")
