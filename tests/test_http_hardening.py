"""The shared HTTP toolkit under hostile input (issue 9, findings 6–9 and 12).

RFC 9110 §5.5 (no control characters in a header), RFC 8259 (JSON; nesting is the
parser's problem, not the attacker's weapon), RFC 6265 §5.4 (the Cookie header,
CVE-2024-7592), RFC 9110 §7.2 / §15.5.20 (Host, 421 Misdirected Request: DNS
rebinding), and the server's own limits (connections, file descriptors).

Everything runs over real sockets on port 0 against the real servers: the app, the
embedded authorization server and the CLI's one-shot loopback server.
"""
from __future__ import annotations

import contextlib
import errno
import http.client
import io
import json
import socket
import tempfile
import threading
import unittest
from pathlib import Path

from oauthdemo.web import httpkit
from oauthdemo import settings
from oauthdemo.core.errors import ConfigError, ProviderBadResponse
from oauthdemo.web.httpkit import BaseHandler, DemoHTTPServer, Response, redirect, start_server
from oauthdemo.native.loopback import LoopbackServer
from oauthdemo.client.oidc import PendingLogins, parse_json_answer

from .demo_fixtures import log_in, start_test_demo
from .support import send_raw

TIMEOUT = 4                    # seconds; a server that never answers fails instead of hanging
REBIND = "rebind.attacker.example"
DEEP = b"[" * 60000            # far beyond any recursion limit, under MAX_BODY


def setUpModule():
    global RUNNING
    RUNNING, _ = start_test_demo()


def tearDownModule():
    RUNNING.stop()


def port_of(server) -> int:
    return server.server_address[1]


def call(port: int, method: str, path: str, headers: dict | None = None,
         body: bytes | None = None) -> tuple:
    """One request, Host included (http.client adds none of its own when given one).
    Returns (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request(method, path, body=body,
                     headers={"Host": f"localhost:{port}", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def error_code(body: bytes) -> str:
    return json.loads(body)["error"]


class BuggyHandler(BaseHandler):
    """Routes with the bug finding 6 is about: outside text in a response header."""

    routes = {("GET", "/split"): "split", ("GET", "/api/split"): "split",
              ("GET", "/bad-name"): "bad_name", ("GET", "/ok"): "ok"}
    json_paths = ("/api/",)

    def split(self, req):
        return redirect("/next\r\nSet-Cookie: x=1")

    def bad_name(self, req):
        return Response(200, b"hi").add_header("X-Note\r\nSet-Cookie", "x=1")

    def ok(self, req):
        return Response(200, b"ok")


@contextlib.contextmanager
def serving(server):
    """serve_forever in a thread for the length of a with-block."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class TestFinding6ResponseWriter(unittest.TestCase):
    """A header with CR/LF (or any control) is a route bug: a 500, never a split response."""

    @classmethod
    def setUpClass(cls):
        cls.server, _ = start_server(BuggyHandler, "127.0.0.1", 0, object())
        cls.port = port_of(cls.server)

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def get_raw(self, path: str) -> tuple:
        console = io.StringIO()
        with contextlib.redirect_stderr(console):
            answer = send_raw(self.port, f"GET {path} HTTP/1.1\r\nHost: localhost:{self.port}\r\n"
                                    "Connection: close\r\n\r\n".encode())
        head, _, body = answer.partition(b"\r\n\r\n")
        return head.split(b"\r\n"), body, console.getvalue()

    def assert_not_split(self, path: str) -> bytes:
        lines, body, console = self.get_raw(path)
        self.assertEqual(status_of(lines[0]), 500)
        names = [line.split(b":", 1)[0].strip().lower() for line in lines[1:]]
        self.assertNotIn(b"set-cookie", names)
        self.assertNotIn(b"x=1", b"\r\n".join(lines))
        self.assertIn("Refused to send header", console)   # the bug is told on the console
        self.assertEqual(call(self.port, "GET", "/ok")[0], 200)   # and the server serves on
        return body

    def test_finding6_location_with_crlf_is_500_not_an_injected_header(self):
        body = self.assert_not_split("/split")
        self.assertNotIn(b"Traceback", body)

    def test_finding6_api_path_gets_json_server_error(self):
        body = self.assert_not_split("/api/split")
        self.assertEqual(error_code(body), "server_error")

    def test_finding6_header_name_with_crlf_is_500(self):
        self.assert_not_split("/bad-name")

    def test_finding6_every_control_character_refused(self):
        for value in ("a\rb", "a\nb", "a\x00b", "a\x7fb", "a\tb", "caf\u00e9", "a\u2028b"):
            self.assertFalse(httpkit.header_fields_safe([("X-Note", value)]), repr(value))
        self.assertFalse(httpkit.header_fields_safe([("X Note", "v")]))
        self.assertTrue(httpkit.header_fields_safe(httpkit.security_headers()))


class TestFinding7NestedJson(unittest.TestCase):
    """JSON nested past the recursion limit: 400 invalid_request, never a 500."""

    def post_json(self, server, path: str, body: bytes) -> tuple:
        status, _, answer = call(port_of(server), "POST", path, body=body,
                                 headers={"Content-Type": "application/json"})
        return status, error_code(answer)

    def assert_refused_and_serving(self, server, path: str, healthy: str):
        for body in (DEEP, b'{"grant_type": ' + DEEP):
            self.assertEqual(self.post_json(server, path, body), (400, "invalid_request"))
        self.assertEqual(call(port_of(server), "GET", healthy)[0], 200)

    def test_finding7_nested_json_at_token_endpoint_is_400(self):
        self.assert_refused_and_serving(RUNNING.auth_server, "/oauth/token",
                                        "/.well-known/openid-configuration")

    def test_finding7_nested_json_at_revocation_endpoint_is_400(self):
        self.assert_refused_and_serving(RUNNING.auth_server, "/oauth/revoke",
                                        "/.well-known/openid-configuration")

    def test_finding7_nested_json_at_auth_exchange_is_400(self):
        self.assert_refused_and_serving(RUNNING.app_server, "/auth/exchange", "/")

    def test_finding7_member_nested_just_under_the_limit_is_400_or_accepted(self):
        # Re-encoding a member that the parser just managed must not turn into a 500 either.
        for depth in range(900, 1000, 10):
            body = b'{"grant_type": ' + b"[" * depth + b"]" * depth + b"}"
            status, _, _ = call(port_of(RUNNING.auth_server), "POST", "/oauth/token", body=body,
                                headers={"Content-Type": "application/json"})
            self.assertLess(status, 500, depth)

    def test_finding7_nested_provider_answer_is_bad_response(self):
        with self.assertRaises(ProviderBadResponse) as caught:
            parse_json_answer("http://provider.example/token", b"[" * 100000, 200)
        self.assertEqual(caught.exception.status_code, 502)


class TestFinding8Cookies(unittest.TestCase):
    """The Cookie header is bounded before it is parsed, and parsed in one linear pass."""

    def test_finding8_oversized_cookie_header_is_400(self):
        port = port_of(RUNNING.app_server)
        huge = {"Cookie": "demo_session=" + "a" * httpkit.COOKIE_MAX}
        status, headers, body = call(port, "GET", "/", headers=huge)
        self.assertEqual(status, 400)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        status, _, body = call(port, "GET", "/api/protected", headers=huge)
        self.assertEqual((status, error_code(body)), (400, "invalid_request"))
        self.assertEqual(call(port, "GET", "/")[0], 200)

    def test_finding8_cve_2024_7592_shape_is_refused_unparsed(self):
        port = port_of(RUNNING.app_server)
        quadratic = {"Cookie": 'a="' + "\\" * 60000 + '"'}   # SimpleCookie's worst case
        self.assertEqual(call(port, "GET", "/", headers=quadratic)[0], 400)

    def test_finding8_cookie_parser(self):
        self.assertEqual(httpkit.parse_cookies('a=1; b=two;c="q"'),
                         {"a": "1", "b": "two", "c": "q"})
        # Odd cookies of other localhost apps are skipped, not fatal for ours.
        self.assertEqual(httpkit.parse_cookies("junk; =x; bad name=1; ok=2; ;"), {"ok": "2"})
        # A name sent twice (another path or another localhost port set one): trust neither.
        self.assertEqual(httpkit.parse_cookies("demo_browser=A; x=1; demo_browser=B"), {"x": "1"})
        self.assertEqual(httpkit.parse_cookies(""), {})
        backslashes = "\\" * (httpkit.COOKIE_MAX - 8)
        self.assertEqual(httpkit.parse_cookies(f'a="{backslashes}"'), {"a": backslashes})

    def test_finding8_normal_cookies_still_work(self):
        browser = log_in(RUNNING)     # the browser id binds the login; the session follows
        jar = "; ".join(f"{c.name}={c.value}" for c in browser.jar)
        port = port_of(RUNNING.app_server)
        status, _, body = call(port, "GET", "/", headers={"Cookie": f'_ga=GA1.1; theme; {jar}'})
        self.assertEqual(status, 200)
        self.assertIn(b'name="form_token"', body)   # the logged-in page, from our cookie


class TestFinding9Host(unittest.TestCase):
    """DNS rebinding: each server answers only to its own names on its own port."""

    def rebound(self, server, method: str, path: str, body: bytes | None = None) -> tuple:
        port = port_of(server)
        status, headers, answer = call(port, method, path, body=body, headers={
            "Host": f"{REBIND}:{port}", "Origin": f"http://{REBIND}:{port}",
            "Content-Type": "application/x-www-form-urlencoded"})
        return status, headers, answer

    def test_finding9_app_refuses_a_rebound_host(self):
        status, _, body = self.rebound(RUNNING.app_server, "GET", "/")
        self.assertEqual(status, 421)
        self.assertNotIn(b"Traceback", body)
        status, _, _ = self.rebound(RUNNING.app_server, "POST", "/attacks/run",
                                    b"attack=a&form_token=x")
        self.assertEqual(status, 421)
        status, _, body = self.rebound(RUNNING.app_server, "GET", "/api/protected")
        self.assertEqual((status, error_code(body)), (421, "invalid_request"))

    def test_finding9_embedded_server_refuses_a_rebound_host(self):
        status, _, _ = self.rebound(RUNNING.auth_server, "GET", "/authorize?client_id=x")
        self.assertEqual(status, 421)
        status, _, body = self.rebound(RUNNING.auth_server, "POST", "/oauth/token",
                                       b"grant_type=authorization_code")
        self.assertEqual((status, error_code(body)), (421, "invalid_request"))

    def test_finding9_loopback_server_refuses_a_rebound_host(self):
        with LoopbackServer(0, PendingLogins(), "the CLI") as loop:
            status, _, _ = self.rebound(loop.server, "GET", "/callback?state=s&code=c")
            self.assertEqual(status, 421)
            own = call(loop.port, "GET", "/callback?state=s&code=c",
                       headers={"Host": f"127.0.0.1:{loop.port}"})
            self.assertEqual(own[0], 400)            # reached the route: a stray state

    def test_finding9_own_names_and_port_only(self):
        port = port_of(RUNNING.app_server)
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}",
                     f"LOCALHOST:{port}"):
            self.assertEqual(call(port, "GET", "/", headers={"Host": host})[0], 200, host)
        for host in (f"localhost:{port + 1}", "localhost", f"127.0.0.2:{port}",
                     f"localhost.:{port}", f"{REBIND}:{port}"):
            self.assertEqual(call(port, "GET", "/", headers={"Host": host})[0], 421, host)

    def test_finding9_http11_without_host_is_400(self):
        port = port_of(RUNNING.app_server)
        answer = send_raw(port, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        self.assertEqual(status_of(answer), 400)
        two = (f"GET / HTTP/1.1\r\nHost: localhost:{port}\r\nHost: {REBIND}:{port}\r\n"
               "Connection: close\r\n\r\n")
        self.assertEqual(status_of(send_raw(port, two.encode())), 400)

    def test_finding9_origin_checked_against_own_origins_not_host(self):
        port = port_of(RUNNING.app_server)
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        alias = call(port, "POST", "/logout", body=b"",
                     headers={**form, "Origin": f"http://127.0.0.1:{port}"})
        self.assertEqual(alias[0], 303)                 # our own page under another name
        other = call(port, "POST", "/logout", body=b"",
                     headers={**form, "Origin": f"http://localhost:{port + 1}"})
        self.assertEqual(other[0], 403)

    def test_finding9_public_host_setting(self):
        with tempfile.TemporaryDirectory() as tmp:
            args = _Args(Path(tmp) / ".env")
            args.env_file.write_text("OAUTH_PUBLIC_HOST=Demo.Example.org\n")
            self.assertEqual(settings.build(args, environ={}).public_host, "demo.example.org")
            with self.assertRaises(ConfigError):
                settings.build(args, environ={"OAUTH_PUBLIC_HOST": "http://demo.example.org:80"})
            cfg = settings.build(args, environ={})
        server = DemoHTTPServer(("127.0.0.1", 0), BuggyHandler, public_host=cfg.public_host)
        server.app = object()
        with serving(server):
            port = port_of(server)
            self.assertEqual(call(port, "GET", "/ok", {"Host": f"demo.example.org:{port}"})[0],
                             200)
            self.assertEqual(call(port, "GET", "/ok", {"Host": f"{REBIND}:{port}"})[0], 421)
            self.assertIn(f"http://demo.example.org:{port}", httpkit.allowed_origins(server))


class _Args:
    """settings.build's flags: only --env-file given."""

    def __init__(self, env_file: Path):
        self.env_file = env_file

    def __getattr__(self, name):
        return None


class CountingServer(DemoHTTPServer):
    """Says when a connection's thread has given its slot back."""

    def __init__(self, *args, **kwargs):
        self.done = threading.Semaphore(0)
        super().__init__(*args, **kwargs)

    def process_request_thread(self, request, client_address):
        super().process_request_thread(request, client_address)
        self.done.release()


class OutOfDescriptors:
    """A listening socket as the OS makes it when the process has no file descriptor left."""

    def __init__(self, sock, failures: int):
        self.sock, self.failures = sock, failures

    def accept(self):
        if self.failures:
            self.failures -= 1
            raise OSError(errno.EMFILE, "Too many open files")
        return self.sock.accept()

    def __getattr__(self, name):
        return getattr(self.sock, name)


class StarvedServer(DemoHTTPServer):
    def server_activate(self):
        super().server_activate()
        self.socket = OutOfDescriptors(self.socket, failures=3)


class TestFinding12Connections(unittest.TestCase):
    """A cap on open connections, and a pause (not a spin) when descriptors run out."""

    def test_finding12_connection_cap_refuses_the_third_idle_connection(self):
        server = CountingServer(("127.0.0.1", 0), BuggyHandler, max_connections=2)
        server.app = object()
        with serving(server):
            port = port_of(server)
            held = [socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
                    for _ in range(2)]                  # idle: they hold their threads
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as third:
                answer = third.recv(4096)
            self.assertEqual(status_of(answer), 503)
            self.assertIn(b"\r\nRetry-After: 1\r\n", answer)
            self.assertEqual(error_code(answer.partition(b"\r\n\r\n")[2]),
                             "temporarily_unavailable")
            for sock in held:
                sock.close()
            for _ in held:
                self.assertTrue(server.done.acquire(timeout=TIMEOUT))
            self.assertEqual(call(port, "GET", "/ok")[0], 200)   # serving resumes

    def test_finding12_emfile_backs_off_instead_of_spinning(self):
        pauses = []
        server = StarvedServer(("127.0.0.1", 0), BuggyHandler, sleep=pauses.append)
        server.app = object()
        with serving(server):
            self.assertEqual(call(port_of(server), "GET", "/ok")[0], 200)
        self.assertEqual(pauses, [httpkit.ACCEPT_BACKOFF] * 3)   # one pause per failed accept


if __name__ == "__main__":
    unittest.main()
