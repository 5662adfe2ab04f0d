"""The teaching pages' routes, mixed into the app's handler (complete_oauth_demo.DemoHandler).

The handler reads as the walkthrough's ten steps; what the learner reads *about* the login
lives here: the flow as a picture with its HTTP log (/walkthrough, /trace.har), the
step-through lab (/step), the attack lab (/attacks) and the mistakes gallery (/mistakes).
Each route only hands the request to the part of ``app`` that owns it.
"""
from __future__ import annotations

from oauthdemo.teaching import stepmode, walkthrough
from oauthdemo.teaching.httplog import har_download
from oauthdemo.web import httpkit


class TeachingRoutes:
    """The handler provides ``app`` (the DemoApp), ``browser_of(req)`` (this browser's
    binding id, or "") and ``browser_or_new(req)`` (that id, or a fresh one)."""

    ROUTES = {
        ("GET", "/walkthrough"): "walkthrough_page", ("GET", "/trace.har"): "trace_har",
        ("GET", "/attacks"): "attack_lab_page",
        ("POST", "/attacks/run"): "attack_lab_run",
        **dict.fromkeys((("GET", "/mistakes"), ("POST", "/mistakes/run")), "mistakes_gallery"),
        **dict.fromkeys(stepmode.ROUTES, "step_through"),
    }

    # == The flow as a picture, and its HTTP log =============================================
    def walkthrough_page(self, req):
        return walkthrough.walkthrough_page(self.app, self.browser_of(req),
                                            self.app.session_for(req))

    def trace_har(self, req):
        """This browser's latest login as HAR 1.2 (a download): only ever its own."""
        return har_download(self.app.http_log, self.browser_of(req),
                            req.query.get("reveal", "0"))

    # == Do it yourself: the step-through lab, your own mistakes ==============================
    def step_through(self, req):
        return self.app.steps.handle(req, self.browser_of(req))

    def mistakes_gallery(self, req):   # your own bugs, run for real, explained
        return self.app.mistakes.handle(req, self.browser_or_new(req))

    # == The attack lab: someone else's doing ================================================
    def attack_lab_page(self, req):
        browser = self.browser_or_new(req)
        page = walkthrough.attack_lab_page(self.app, browser)
        return self.app.with_browser_cookie(page, browser, self.app.lab.cookie_age)

    def attack_lab_run(self, req):
        req.require_same_origin()
        browser, form = self.browser_of(req), req.form()
        self.app.lab.check_post(browser, form)
        session = self.app.session_for(req)
        fragment = self.app.lab.run_from_form(form, browser, session.tokens if session else None)
        return httpkit.redirect(f"/attacks#{fragment}", 303)
