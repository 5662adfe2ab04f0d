"""The device grant's browser pages: /activate, its consent page and the end (RFC 8628 §3.3).

The user types the code their device shows (§3.3), logs in with the same login form as
the code flow (``AuthServerHandler.login_page``, its form token bound to this browser),
then answers a consent page that names the device's client and warns that a code sent by
someone else is a phishing attempt (§5.4). Only parsing and rendering here: the decisions
are ``server.device``'s.
"""
from __future__ import annotations

import urllib.parse

from oauthdemo.core.errors import InvalidRequest, OAuth2Error
from oauthdemo.core.steps import DeviceStep
from oauthdemo.server.authorize import BROWSER_COOKIE as COOKIE, CROSS_SITE, TXN_TTL
from oauthdemo.server.device import TooManyCodes, shown
from oauthdemo.server.users import DEMO_USERS
from oauthdemo.web import httpkit
from oauthdemo.web.html import Markup, partial
from oauthdemo.web.httpkit import render

DONE = {"allow": "approved", "deny": "denied"}
# What happens next, said from this server's side: the device learns it on its next poll
# (RFC 8628 §3.5); the demo's walkthrough (the app's page, not this server's) draws it.
DONE_NEXT = {"approved": "The CLI gets its tokens on its next poll: you can close this tab "
                         "and go back to it. The demo's walkthrough draws this login.",
             "denied": "The CLI is told access_denied on its next poll and stops: no tokens "
                       "were issued. You can close this tab.",
             "answered": "The CLI learns the answer on its next poll. You can close this tab."}
ACTIVATE_FORM = "activate"     # the form token's purpose on the code form (core.forms)


class DevicePages:
    """Mixed into ``AuthServerHandler``: the routes under /activate."""

    def activate_page(self, req, typed: str = "", error: OAuth2Error | None = None):
        """§3.3: the form for the user code; verification_uri_complete fills it in. Its
        form token binds it to this browser (CSRF: another site cannot post a code here)."""
        typed = typed or req.query.get("user_code", "")
        known = req.browser_id(COOKIE)
        browser = known or httpkit.new_browser_id()
        page = render("as_activate.html", title="Activate a device · embedded authorization "
                      "server", status=error.status_code if error else 200,
                      user_code=typed[:32],
                      form_token=self.auth.authorization.forms.issue(ACTIVATE_FORM, browser),
                      error=partial("as_activate_error.html", error_code=error.error,
                                    message=error.description,
                                    limit=error.limit if isinstance(error, TooManyCodes) else "")
                      if error else Markup(""))
        httpkit.add_retry_after(page, error)   # RFC 6585 §4: the 429 says how long
        return page if known else page.set_cookie(COOKIE, browser, max_age=TXN_TTL)

    def activate(self, req):
        """The typed code, from our own form in this browser: a wrong one re-shows the
        form (400, or 429 past §5.1's limit); a right one, the login."""
        req.require_same_origin()
        device, form, browser = self.auth.device, req.form(), req.browser_id(COOKIE)
        self.auth.authorization.forms.check(form, ACTIVATE_FORM, browser, refusal=CROSS_SITE)
        typed = form.get("user_code", "")
        try:
            record = device.find_user_code(typed, browser, req.handler.client_address[0])
        except (InvalidRequest, TooManyCodes) as err:
            return self.activate_page(req, typed=typed, error=err)
        return self.login_page(device.login_request(record, browser), DeviceStep.APPROVAL,
                               stored=partial("as_login_stored_device.html",
                                              client_id=record.client_id,
                                              user_code=shown(record.user_code)))

    def device_consent_page(self, req):
        """§5.4: name the client, show the scope, and say whose login this must be."""
        txn = self.auth.authorization.awaiting_consent(req.query.get("txn", ""),
                                                       req.browser_id(COOKIE))
        user_code = self.auth.device.user_code_shown(txn)
        user = DEMO_USERS[txn.user]
        return render("as_device_consent.html", title="Approve a device · embedded "
                      "authorization server",
                      client_name=self.display_name(self.auth.clients, txn.client),
                      client_id=txn.client.client_id, user_code=user_code,
                      user_name=user["name"],
                      user_email=user["email"], scopes=self.scope_items(txn.scope),
                      decision=self.decision_form("/activate/consent", txn,
                                                  self.auth.authorization.form_token(txn)))

    def device_consent(self, req):
        """Allow or Deny (form token checked), once; then a page the user can close (PRG)."""
        endpoint, form = self.auth.authorization, req.form()
        txn = endpoint.find_transaction(form, req.browser_id(COOKIE))
        decision = "allow" if form.get("decision") == "allow" else "deny"
        if not self.auth.device.decide(txn, decision == "allow"):
            raise InvalidRequest("This device login has been answered already, or expired.")
        return httpkit.redirect("/activate/done?" + urllib.parse.urlencode(
            {"decision": decision}), 303)

    def activate_done(self, req):
        result = DONE.get(req.query.get("decision", ""), "answered")
        return render("as_activate_done.html", title="Device " + result, result=result,
                      next=DONE_NEXT[result])
