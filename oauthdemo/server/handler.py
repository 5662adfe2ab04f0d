"""The embedded server's HTTP face: routes, pages and JSON, and nothing that decides.

Auth0's paths (RFC 6749 §3.1 /authorize, §3.2 /oauth/token; OpenID Connect Core §5.3
/userinfo; RFC 7517 /.well-known/jwks.json; RFC 8414 / OIDC Discovery §4 the metadata;
RFC 7009 /oauth/revoke; RFC 7662 /oauth/introspect; Auth0's /v2/logout and OIDC
RP-Initiated Logout 1.0 §2–3 /oidc/logout). Each route parses, calls the server's part
for that step, and renders; every value on a page goes through a template, escaped.
"""
from __future__ import annotations

import urllib.parse

from oauthdemo.core.errors import InvalidRequest, OAuth2Error
from oauthdemo.core.jose import jwks_document
from oauthdemo.core.steps import Step
from oauthdemo.server.authorize import AS, BROWSER_COOKIE, TXN_TTL, Transaction, add_query
from oauthdemo.server.device_pages import DevicePages
from oauthdemo.server.logout import client_id_of_hint
from oauthdemo.server.users import DEMO_USERS
from oauthdemo.web import httpkit
from oauthdemo.web.html import Markup, partial
from oauthdemo.web.httpkit import Response, json_response, origin_of, render

SCOPE_TEXT = {
    "openid": "prove who you are to the app (an ID token)",
    "profile": "your name",
    "email": "your email address and whether it is verified",
    "offline_access": "stay signed in (a refresh token)",
}


def user_buttons(txn: Transaction, form_token: str) -> Markup:
    """One POST form per demo user: a click stands for a whole upstream login."""
    return Markup("").join(
        partial("as_user_button.html", txn=txn.txn_id, form_token=form_token, user=name,
                connection_class=user["connection"].lower(), button=user["button"],
                name=user["name"], email=user["email"])
        for name, user in DEMO_USERS.items())


def scope_items(scope: str) -> Markup:
    return Markup("").join(partial("as_scope.html", scope=s, text=SCOPE_TEXT.get(s, ""))
                           for s in scope.split())


def decision_form(action: str, txn: Transaction, form_token: str) -> Markup:
    """Allow and Deny, each a POST carrying the request and its form token: one form for
    the code flow's consent and the device's (which posts elsewhere)."""
    return partial("as_consent_decision.html", action=action, txn=txn.txn_id,
                   form_token=form_token)


def display_name(clients, client) -> str:
    """What the user sees on the login and consent pages: the name the app's developer
    registered for people to read (as Auth0 shows an application's name), not our own
    description of the client ("public, PKCE"), which is for developers."""
    names = {clients.web_client_id: "OAuth PKCE Demo",
             clients.native_client_id: "OAuth PKCE Demo CLI",
             clients.backend_client_id: "OAuth PKCE Demo mobile app"}
    return names.get(client.client_id) or client.name.split(" (")[0]


def endpoint_items(metadata: dict, discovery_url: str, get_paths: set) -> Markup:
    """The home page's list: each endpoint by its metadata name; a link where a browser
    can GET it (the others take POST), the discovery document first."""
    rows = [("discovery document", discovery_url)]
    rows += [(name, url) for name, url in metadata.items()
             if name != "issuer" and str(url).startswith("http")]
    kind = {True: "", False: "_post"}
    return Markup("").join(
        partial(f"as_endpoint{kind[urllib.parse.urlsplit(url).path in get_paths]}.html",
                name=name, url=url) for name, url in rows)


def on_to_the_client(redirect_uri: str) -> str:
    """CSP form-action of the consent page and its redirect: our own origin, then the
    client's, where the browser goes with the code."""
    return f"'self' {origin_of(redirect_uri)}"


class AuthServerHandler(DevicePages, httpkit.BaseHandler):
    """HTTP face of ``AuthorizationServer``: parses, calls, renders. No decisions here."""

    routes = {
        ("GET", "/"): "home",
        ("GET", "/.well-known/openid-configuration"): "discovery",
        ("GET", "/.well-known/jwks.json"): "jwks",
        ("GET", "/authorize"): "authorize",
        ("POST", "/authorize/login"): "login",
        ("GET", "/authorize/consent"): "consent_page",
        ("POST", "/authorize/consent"): "consent",
        ("POST", "/oauth/token"): "token",
        ("POST", "/oauth/device/code"): "device_code",
        ("GET", "/activate"): "activate_page",
        ("POST", "/activate"): "activate",
        ("GET", "/activate/consent"): "device_consent_page",
        ("POST", "/activate/consent"): "device_consent",
        ("GET", "/activate/done"): "activate_done",
        ("POST", "/oauth/par"): "par",
        ("GET", "/userinfo"): "userinfo",
        ("POST", "/userinfo"): "userinfo",
        ("POST", "/oauth/revoke"): "revoke",
        ("POST", "/oauth/introspect"): "introspect",
        ("GET", "/v2/logout"): "logout_auth0",
        ("GET", "/oidc/logout"): "logout_oidc",
    }
    json_paths = ("/.well-known/", "/oauth/", "/userinfo")
    actor = AS   # who answers, in the app's HTTP log (teaching.httplog)
    # The device pages (DevicePages) name the client and list the scope as these pages do.
    display_name = staticmethod(display_name)
    scope_items = staticmethod(scope_items)
    decision_form = staticmethod(decision_form)

    @property
    def auth(self):
        return self.server.app

    # -- pages ---------------------------------------------------------------------------
    def home(self, req):
        get_paths = {path for method, path in self.routes if method == "GET"}
        rows = endpoint_items(self.auth.metadata(),
                              self.auth.site.url("/.well-known/openid-configuration"),
                              get_paths)
        return render("as_home.html", title="Embedded authorization server",
                      issuer=self.auth.issuer, endpoints=rows)

    def discovery(self, req):
        return json_response(self.auth.metadata())

    def jwks(self, req):
        return json_response(jwks_document(self.auth.keys.public_keys()))

    def authorize(self, req):
        """Steps 4 and 5 begin: check the request, store the challenge, show the login."""
        endpoint = self.auth.authorization
        self.auth.prune()
        params = self.auth.pushed.request_params(req.query)   # RFC 9126 §4: pushed, if so
        client, redirect_uri = endpoint.check_client_and_redirect(params)
        try:
            self.auth.pushed.check_pushed(client, params)
            checked = endpoint.check_request(params)
        except OAuth2Error as err:
            location = endpoint.error_location(redirect_uri, err, params.get("state"))
            return httpkit.redirect(location, 303)
        # The request is bound to this browser: only it can answer the login form.
        browser = req.browser_id(BROWSER_COOKIE)
        known = bool(browser)
        browser = browser or httpkit.new_browser_id()
        txn = endpoint.store_request(client, redirect_uri, params, checked, browser)
        page = self.login_page(txn)
        return page if known else page.set_cookie(BROWSER_COOKIE, browser, max_age=TXN_TTL)

    def login_page(self, txn: Transaction, step=Step.AUTHENTICATION,
                   stored: Markup | None = None) -> Response:
        """Step 5's login form; a device login passes its own step and what it stored
        (``DevicePages.activate``: no code_challenge there)."""
        buttons = user_buttons(txn, self.auth.authorization.form_token(txn))
        if stored is None:
            stored = partial("as_login_stored.html", client_id=txn.client.client_id,
                             challenge=txn.challenge)
        return render("as_login.html", title="Log in · embedded authorization server",
                      client_name=display_name(self.auth.clients, txn.client),
                      step_label=step.label, step_number=step.number, stored=stored,
                      buttons=buttons, issuer=self.auth.issuer)

    def login(self, req):
        """Step 5: the user chose an account; now ask for consent. 303 to the consent page
        (post/redirect/get): Back or reload never posts the login form again."""
        endpoint, form = self.auth.authorization, req.form()
        txn = endpoint.find_transaction(form, req.browser_id(BROWSER_COOKIE))
        txn = endpoint.log_in(txn, form.get("user", ""))
        consent = "/activate/consent" if txn.user_code else \
            "/authorize/consent"   # RFC 8628 §3.3: a device login has its own consent page
        return httpkit.redirect(consent + "?" + urllib.parse.urlencode(
            {"txn": txn.txn_id}), 303)

    def consent_page(self, req):
        """The consent form, for the browser that logged in to this request; its POST is
        checked (form token) like the login form's."""
        endpoint = self.auth.authorization
        txn = endpoint.awaiting_consent(req.query.get("txn", ""), req.browser_id(BROWSER_COOKIE))
        user = DEMO_USERS[txn.user]
        return render("as_consent.html", title="Authorize · embedded authorization server",
                      form_action=on_to_the_client(txn.redirect_uri),
                      client_name=display_name(self.auth.clients, txn.client),
                      user_name=user["name"],
                      user_email=user["email"], scopes=scope_items(txn.scope),
                      decision=decision_form("/authorize/consent", txn, endpoint.form_token(txn)),
                      redirect_uri=txn.redirect_uri)

    def consent(self, req):
        """Step 5 ends: back to the client with a code (or access_denied)."""
        endpoint, form = self.auth.authorization, req.form()
        txn = endpoint.find_transaction(form, req.browser_id(BROWSER_COOKIE))
        location = endpoint.finish(txn, form.get("decision") == "allow")
        return httpkit.redirect(location, 303, form_action=on_to_the_client(txn.redirect_uri))

    # -- APIs ------------------------------------------------------------------------------
    def token(self, req):
        return json_response(self.auth.token_endpoint.answer(
            req.form_or_json(), req.headers.get("Authorization")))

    def par(self, req):
        """RFC 9126 §2: the request pushed server to server; 201 with its request_uri."""
        return json_response(self.auth.pushed.push(req.form(), req.headers.get("Authorization")),
                             status=201)

    def device_code(self, req):
        """RFC 8628 §3.1–3.2: a device asks for its device code and user code."""
        return json_response(self.auth.device.start(req.form(), req.headers.get("Authorization")))

    def userinfo(self, req):
        return json_response(self.auth.userinfo.claims(req.bearer_token()))

    def authenticated_token_request(self, req) -> tuple:
        """RFC 7009 §2.1 / RFC 7662 §2.1: an authenticated client, and the token it asks about."""
        params = req.form_or_json()
        client = self.auth.clients.authenticate(params, req.headers.get("Authorization"))
        if not params.get("token"):
            raise InvalidRequest("token is required.")
        return client, params["token"]

    def revoke(self, req):
        self.auth.revocation.revoke(*self.authenticated_token_request(req))
        return json_response({})

    def introspect(self, req):
        return json_response(self.auth.introspection.introspect(
            *self.authenticated_token_request(req)))

    # -- logout ----------------------------------------------------------------------------
    def allowed_logout_target(self, req, name: str, refusal: str,
                              client_id: str = "") -> str | None:
        """``name`` from the query, if present; it must be one of the client's logout URLs
        (an open redirect otherwise)."""
        target = req.query.get(name)
        client = self.auth.clients.get(client_id or req.query.get("client_id", ""))
        if target and (client is None or target not in client.logout_urls):
            raise InvalidRequest(refusal)
        return target

    def logout_client_id(self, req) -> str:
        """RP-Initiated Logout 1.0 §2: the client is named by client_id, by a verified
        id_token_hint, or both, and then they must agree."""
        client_id, hint = req.query.get("client_id", ""), req.query.get("id_token_hint")
        if not hint:
            return client_id
        hinted = client_id_of_hint(hint, key_for_kid=self.auth.access_tokens.key_for_kid,
                                   issuer=self.auth.issuer, now=self.auth.now())
        if client_id and client_id != hinted:
            raise InvalidRequest("client_id is not the client the id_token_hint was issued to.")
        return hinted

    def narrate_logout(self, target: str | None) -> None:
        """The server's side of a logout: it forgets this browser (its cookie here)."""
        self.auth.events.say(AS, "logout: this browser's session here ends (its cookie is "
                                 "deleted); " + (f"back to {target}" if target else
                                                 "a logged-out page, no redirect"))

    def logout_auth0(self, req):
        """Auth0's /v2/logout: returnTo must be one of the client's allowed logout URLs."""
        return_to = self.allowed_logout_target(
            req, "returnTo", "returnTo is not an allowed logout URL for this client.")
        resp = httpkit.redirect(return_to, 302) if return_to else render(
            "as_logged_out.html", title="Logged out")
        self.narrate_logout(return_to)
        return resp.delete_cookie(BROWSER_COOKIE)

    def logout_oidc(self, req):
        """OpenID Connect RP-Initiated Logout 1.0 §2–3, with the client's state echoed."""
        target = self.allowed_logout_target(req, "post_logout_redirect_uri",
                                            "post_logout_redirect_uri is not registered.",
                                            self.logout_client_id(req))
        self.narrate_logout(target)
        if not target:
            return render("as_logged_out.html", title="Logged out").delete_cookie(BROWSER_COOKIE)
        state = req.query.get("state")
        if state:
            target = add_query(target, urllib.parse.urlencode({"state": state}))
        return httpkit.redirect(target, 302).delete_cookie(BROWSER_COOKIE)
