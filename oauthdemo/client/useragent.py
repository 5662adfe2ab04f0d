"""A scripted browser: a cookie jar, redirects followed by hand, and HTML forms submitted.

It plays the user against the embedded authorization server. ``login`` is the one
scripted login the tests, the benchmarks and the interop tests share: GET /login, the
provider's pages, the callback. ``login_at_provider`` is its middle part alone: the attack
lab uses it to obtain a fresh authorization code to "steal". It stops at the first
redirect to the client's redirect_uri and returns that URL unfetched, which is exactly
where an attacker who intercepts a code would stand.
"""
from __future__ import annotations

import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

MAX_HOPS = 10


class FormParser(HTMLParser):
    """Collects each <form>: its action, method (lower case), inputs (with their types)
    and submit buttons."""

    def __init__(self):
        super().__init__()
        self.forms = []
        self._open = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._open = True
            self.forms.append({"action": a.get("action") or "",
                               "method": (a.get("method") or "get").lower(),
                               "fields": {}, "types": {}, "buttons": []})
        elif not self._open or not a.get("name"):
            return
        elif tag == "input":
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""
            self.forms[-1]["types"][a["name"]] = (a.get("type") or "text").lower()
        elif tag == "button":
            self.forms[-1]["buttons"].append((a["name"], a.get("value") or ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = False


class LoginFailed(RuntimeError):
    """A scripted login met an answer that a user's login would not have met."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Response:
    def __init__(self, status: int, headers, body: bytes, url: str):
        self.status, self.headers, self.body, self.url = status, headers, body, url

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str | None:
        loc = self.headers.get("Location")
        return urllib.parse.urljoin(self.url, loc) if loc else None

    def forms(self) -> list:
        parser = FormParser()
        parser.feed(self.text)
        return parser.forms


class ScriptedBrowser:
    """One browser profile: its own cookies, no proxy, no automatic redirects."""

    def __init__(self, timeout: float = 15):
        self.jar = http.cookiejar.CookieJar()
        self.timeout = timeout
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.jar),
            _NoRedirect())

    def request(self, url: str, data: dict | None = None, headers: dict | None = None,
                method: str | None = None) -> Response:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
        try:
            with self.opener.open(req, timeout=self.timeout) as resp:
                return Response(resp.status, resp.headers, resp.read(), url)
        except urllib.error.HTTPError as err:
            with err:
                return Response(err.code, err.headers, err.read(), url)

    def get(self, url: str, headers: dict | None = None) -> Response:
        return self.request(url, headers=headers)

    def follow(self, url: str, stop_prefix: str | None = None) -> Response:
        """GET and follow redirects, stopping before any URL that starts with stop_prefix."""
        resp = self.get(url)
        for _ in range(MAX_HOPS):
            nxt = resp.location if resp.status in (301, 302, 303, 307, 308) else None
            if nxt is None or (stop_prefix and nxt.startswith(stop_prefix)):
                return resp
            resp = self.get(nxt)
        raise RuntimeError(f"More than {MAX_HOPS} redirects from {url}")

    def submit(self, page: Response, form_index: int = 0, button: tuple | None = None,
               extra: dict | None = None) -> Response:
        form = page.forms()[form_index]
        data = dict(form["fields"])
        if button:
            data[button[0]] = button[1]
        data.update(extra or {})
        return self.request(urllib.parse.urljoin(page.url, form["action"]), data=data)

    def login(self, app_url: str, user: str = "alice", *, at_provider=None) -> Response:
        """One whole login through the app at ``app_url``, as a user clicks it: GET /login,
        the provider's pages, then the callback (the token exchange happens there).

        ``at_provider(browser, authorize_url, user)`` plays the provider's pages and returns
        the callback URL; the default is the embedded server's (``login_at_provider``).
        Returns the callback's answer (a 303 to the app's page); raises LoginFailed at the
        first answer a login would not get."""
        start = self.get(app_url + "/login")
        if start.status != 302 or not start.location:
            raise LoginFailed(f"GET /login answered {start.status}: {start.text[:300]}")
        play = at_provider or ScriptedBrowser.login_at_provider
        done = self.get(play(self, start.location, user))
        if done.status != 303:
            raise LoginFailed(f"the callback answered {done.status}: {done.text[:300]}")
        return done

    def login_at_provider(self, authorize_url: str, user: str = "alice",
                          allow: bool = True) -> str:
        """Play the user at the embedded server: pick a demo user, then Allow or Deny.
        Returns the callback URL the server redirected to (not fetched)."""
        page = self.get(authorize_url)
        if page.status != 200:
            if page.location:
                return page.location      # an error redirect straight back to the client
            raise LoginFailed(f"authorize answered {page.status}: {page.text[:300]}")
        index = next((i for i, f in enumerate(page.forms()) if f["fields"].get("user") == user),
                     None)
        if index is None:
            raise LoginFailed(f"no login button for demo user {user!r}")
        consent = self.submit(page, index)
        if consent.status == 303 and consent.location:   # post/redirect/get to the consent page
            consent = self.get(urllib.parse.urljoin(consent.url, consent.location))
        if consent.status != 200:
            raise LoginFailed(f"login answered {consent.status}: {consent.text[:300]}")
        decision = ("decision", "allow" if allow else "deny")
        done = self.submit(consent, 0 if allow else 1, button=decision)
        if done.status != 303 or not done.location:
            raise LoginFailed(f"consent answered {done.status}: {done.text[:300]}")
        return done.location
