"""Helpers for interop tests against an independent, OpenID-certified provider.

The provider is the npm package ``oidc-provider`` (version pinned in
``tests/interop/package.json``), started by ``tests/interop/oidc_provider_server.mjs``
on 127.0.0.1 with an ephemeral port and issuer ``http://localhost:<port>``.
It registers one public client, ``interop-public`` (token endpoint auth
``none``, PKCE S256 required, grant types ``authorization_code`` and
``refresh_token``), and uses oidc-provider's development login and consent
pages, where any login id is accepted and becomes the ``sub``.

Requirements: ``node`` on PATH and the npm dependencies installed in
``tests/interop/node_modules`` (git-ignored). ``.ci/run`` installs them with::

    npm ci --prefix tests/interop

(locally ``npm install --prefix tests/interop`` works too). Without them the
interop tests skip -- except when ``CI=true``, where they fail instead, so a
broken CI setup cannot pass silently (see ``require_or_skip``).

Everything here is standard library only.

Interface:

``node_available() -> bool``
    node is on PATH and oidc-provider is installed.
``require_or_skip(condition, reason)``
    no-op if ``condition``; otherwise ``unittest.SkipTest`` (or
    ``AssertionError`` when ``CI=true``).
``OidcProviderProcess(redirect_uri)``
    context manager running the provider; ``.issuer``, ``.port``,
    ``.client_id``, ``.redirect_uri``, ``.stderr_text()``.
``drive_login(browser, authorize_url, login="alice") -> str``
    plays the user (a ``ScriptedBrowser``) through login and consent, returns the
    callback URL (``redirect_uri?code=...&state=...&iss=...``) without fetching it.
    It is the ``at_provider`` of ``ScriptedBrowser.login`` for oidc-provider.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import unittest
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

from oauthdemo.client.useragent import ScriptedBrowser

TESTS_DIR = Path(__file__).resolve().parent
INTEROP_DIR = TESTS_DIR / "interop"
SERVER_SCRIPT = INTEROP_DIR / "oidc_provider_server.mjs"
CLIENT_ID = "interop-public"
READY_TIMEOUT = 20.0


def node_available() -> bool:
    """True when ``node`` is on PATH and oidc-provider is installed."""
    return (
        shutil.which("node") is not None
        and (INTEROP_DIR / "node_modules" / "oidc-provider" / "package.json").is_file()
    )


def require_or_skip(condition: bool, reason: str) -> None:
    """Skip the test unless ``condition`` holds; under ``CI=true`` fail instead."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        raise AssertionError(f"required in CI (CI=true): {reason}")
    raise unittest.SkipTest(reason)


class OidcProviderProcess:
    """Run oidc-provider in a child node process for the duration of a ``with``.

    ``__enter__`` returns once the server printed its ready line, so the
    issuer is immediately usable. On any startup failure a ``RuntimeError``
    carrying the process's stderr is raised and the process is cleaned up.
    """

    client_id = CLIENT_ID

    def __init__(self, redirect_uri: str, *, timeout: float = READY_TIMEOUT):
        self.redirect_uri = redirect_uri
        self.timeout = timeout
        self.issuer: str | None = None
        self.port: int | None = None
        self._proc: subprocess.Popen | None = None
        self._stderr = None

    # -- lifecycle -----------------------------------------------------------

    def __enter__(self) -> "OidcProviderProcess":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not on PATH")
        env = dict(os.environ, REDIRECT_URI=self.redirect_uri)
        # stderr goes to a file, not a pipe: nobody drains it while tests run.
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [node, str(SERVER_SCRIPT)],
            cwd=str(INTEROP_DIR),
            env=env,
            stdin=subprocess.PIPE,  # closing it makes the server exit
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        try:
            line = self._read_ready_line()
            try:
                info = json.loads(line)
                self.issuer = info["issuer"]
                self.port = int(info["port"])
            except (ValueError, KeyError, TypeError) as exc:
                raise RuntimeError(
                    f"oidc-provider printed an unexpected ready line {line!r}: {exc}"
                    f"\n--- stderr ---\n{self.stderr_text()}"
                ) from None
        except BaseException:
            self.stop()
            raise

    def _read_ready_line(self) -> str:
        result: list[bytes] = []
        reader = threading.Thread(
            target=lambda: result.append(self._proc.stdout.readline()), daemon=True
        )
        reader.start()
        reader.join(self.timeout)
        if reader.is_alive():
            raise RuntimeError(
                f"oidc-provider did not report ready within {self.timeout:g} s"
                f"\n--- stderr ---\n{self.stderr_text()}"
            )
        line = result[0].decode("utf-8", "replace").strip() if result else ""
        if not line:
            code = self._proc.wait(timeout=5)
            raise RuntimeError(
                f"oidc-provider exited (status {code}) before reporting ready"
                f"\n--- stderr ---\n{self.stderr_text()}"
            )
        return line

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                if proc.stdin:
                    proc.stdin.close()
            except OSError:
                pass
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout:
                proc.stdout.close()
            self._last_stderr = self._read_stderr()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    # -- diagnostics ---------------------------------------------------------

    def _read_stderr(self) -> str:
        if self._stderr is None:
            return getattr(self, "_last_stderr", "")
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def stderr_text(self) -> str:
        """Everything the node process wrote to stderr so far."""
        return self._read_stderr()


# -- the user's browser -----------------------------------------------------


class _TextParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "script") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def _page_text(body: str, limit: int = 4000) -> str:
    parser = _TextParser()
    try:
        parser.feed(body)
        text = "\n".join(parser.parts)
    except Exception:  # pragma: no cover - diagnostics only
        text = body
    return text[:limit]


def drive_login(browser: ScriptedBrowser, authorize_url: str, login: str = "alice",
                redirect_uri: str | None = None) -> str:
    """Act as the user's browser from the authorization request to the callback.

    GETs ``authorize_url``, follows the provider's redirects to its login page,
    submits the login form with ``login`` (and a dummy password), then the
    consent form, and stops at the first redirect whose Location starts with
    the ``redirect_uri`` from ``authorize_url``. Returns that absolute Location
    (``redirect_uri?code=...&state=...&iss=...``) without requesting it.

    The browser's cookie jar is used (and filled), so a second call with the same
    browser reuses the provider session. The signature is ``ScriptedBrowser.login``'s
    ``at_provider``: ``browser.login(app_url, "dora", at_provider=drive_login)`` is a
    whole login of our app at oidc-provider.

    A pushed request (RFC 9126) has no redirect_uri in its URL: pass ``redirect_uri``.

    Raises AssertionError (with the page text) on anything unexpected.
    """
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize_url).query)
    try:
        redirect_uri = redirect_uri or query["redirect_uri"][0]
    except (KeyError, IndexError):
        raise AssertionError(f"authorize_url has no redirect_uri: {authorize_url}") from None

    url, data = authorize_url, None
    trail: list[str] = []
    submitted: list[str] = []
    for _ in range(20):
        trail.append(("POST " if data is not None else "GET ") + url)
        page = browser.request(url, data=data, headers={"Accept": "text/html"})
        if page.status in (301, 302, 303, 307, 308):
            if not page.location:
                raise AssertionError(f"HTTP {page.status} without Location from {url}")
            if page.location.startswith(redirect_uri):
                return page.location
            url, data = page.location, None
            continue
        if page.status != 200:
            raise AssertionError(
                f"HTTP {page.status} from {url}\n--- page ---\n{_page_text(page.text)}"
                "\n--- trail ---\n" + "\n".join(trail)
            )
        forms = [f for f in page.forms() if f["method"] == "post"]
        if not forms:
            raise AssertionError(
                f"no form on {url} (expected login or consent page)\n--- page ---\n"
                f"{_page_text(page.text)}\n--- trail ---\n" + "\n".join(trail)
            )
        kind, data = _fill_in(forms[0], login)
        submitted.append(kind)
        if submitted.count(kind) > 3:
            raise AssertionError(
                f"{kind} form shown again after submitting it; page:\n{_page_text(page.text)}"
                "\n--- trail ---\n" + "\n".join(trail)
            )
        url = urllib.parse.urljoin(url, forms[0]["action"] or url)

    raise AssertionError("too many steps before reaching the redirect_uri:\n" + "\n".join(trail))


def _fill_in(form: dict, login: str) -> tuple:
    """("login" or "consent", the form's fields with the login id and a dummy password)."""
    fields, kind = {}, "consent"
    for name, value in form["fields"].items():
        kind_of_input = form["types"][name]
        if name in ("login", "username", "email") and kind_of_input != "hidden":
            value, kind = login, "login"
        elif kind_of_input == "password":
            value = value or "interop-password"
        fields[name] = value
    return kind, fields
