"""The shared HTTP toolkit under hostile input (issue 9, findings 6–9 and 12).

RFC 9110 §5.5 (no control characters in a header), RFC 8259 (JSON; nesting is the
parser's problem, not the attacker's weapon), RFC 6265 §5.4 (the Cookie header,
CVE-2024-7592), RFC 9110 §7.2 / §15.5.20 (Host, 421 Misdirected Request: DNS
rebinding), and the server's own limits (connections, file descriptors).

What a handler decides (status, headers, the RFC code) is tested without a socket: the
raw request is fed to the real handler class with the real app's state (``socketless``,
CPython's SocketlessRequestHandler pattern). What needs the socket itself (the loopback
server's Host check, the connection cap, running out of descriptors, a server that keeps
serving) runs over real sockets on port 0.
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
from oauthdemo.web.httpkit import BaseHandler, DemoHTTPServer, Response, redirect
from oauthdemo.native.loopback import LoopbackServer
from oauthdemo.client.pending import PendingLogins
from oauthdemo.client.transport import parse_json_answer

from .demo_fixtures import log_in, start_test_demo
from .support import SocketlessServer, error_code, socketless

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


def raw(method: str, path: str, headers: dict | None = None, body: bytes = b"",
        host: str = "localhost") -> bytes:
    """A request's bytes: Host (a socketless server listens on port 80, the port a Host may
    leave out), the given headers, Content-Length when there is a body."""
    fields = {"Host": host, **(headers or {})}
    if body:
        fields["Content-Length"] = str(len(body))
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return f"{method} {path} HTTP/1.1\r\n{head}Connection: close\r\n\r\n".encode() + body


def on(server, data: bytes, **options) -> tuple:
    """``data`` through a running server's handler and state, without its socket."""
    return socketless(server.RequestHandlerClass, data, server.app, **options)


def status_and_code(answer: tuple) -> tuple:
    status, headers, body = answer
    return status, error_code(body, headers.get("Content-Type", ""))


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

    def get(self, path: str) -> tuple:
        console = io.StringIO()
        with contextlib.redirect_stderr(console):
            status, headers, body = socketless(BuggyHandler, raw("GET", path), object())
        return status, headers, body, console.getvalue()

    def assert_not_split(self, path: str) -> tuple:
        status, headers, body, console = self.get(path)
        self.assertEqual(status, 500)
        self.assertIsNone(headers.get_all("Set-Cookie"))
        self.assertNotIn("x=1", str(headers))
        self.assertIn("Refused to send header", console)   # the bug is told on the console
        return headers, body

    def test_finding6_location_with_crlf_is_500_not_an_injected_header(self):
        headers, body = self.assert_not_split("/split")
        self.assertEqual(error_code(body, headers["Content-Type"]), "server_error")
        self.assertNotIn(b"Traceback", body)

    def test_finding6_api_path_gets_json_server_error(self):
        headers, body = self.assert_not_split("/api/split")
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(error_code(body, headers["Content-Type"]), "server_error")

    def test_finding6_header_name_with_crlf_is_500(self):
        self.assert_not_split("/bad-name")

    def test_finding6_a_clean_route_is_served(self):
        self.assertEqual(self.get("/ok")[:3:2], (200, b"ok"))

    def test_finding6_every_control_character_refused(self):
        for value in ("a\rb", "a\nb", "a\x00b", "a\x7fb", "a\tb", "caf\u00e9", "a\u2028b"):
            self.assertFalse(httpkit.header_fields_safe([("X-Note", value)]), repr(value))
        self.assertFalse(httpkit.header_fields_safe([("X Note", "v")]))
        self.assertTrue(httpkit.header_fields_safe(httpkit.security_headers()))


class TestFinding7NestedJson(unittest.TestCase):
    """JSON nested past the recursion limit: 400 invalid_request, never a 500."""

    JSON = {"Content-Type": "application/json"}

    def assert_refused(self, server, path: str):
        for body in (DEEP, b'{"grant_type": ' + DEEP):
            answer = on(server, raw("POST", path, self.JSON, body))
            self.assertEqual(status_and_code(answer), (400, "invalid_request"))

    def test_finding7_nested_json_at_token_endpoint_is_400(self):
        self.assert_refused(RUNNING.auth_server, "/oauth/token")

    def test_finding7_nested_json_at_revocation_endpoint_is_400(self):
        self.assert_refused(RUNNING.auth_server, "/oauth/revoke")

    def test_finding7_nested_json_at_auth_exchange_is_400(self):
        self.assert_refused(RUNNING.app_server, "/auth/exchange")

    def test_finding7_server_keeps_serving_after_nested_json(self):
        port = port_of(RUNNING.auth_server)
        status, _, body = call(port, "POST", "/oauth/token", body=DEEP, headers=self.JSON)
        self.assertEqual((status, json.loads(body)["error"]), (400, "invalid_request"))
        self.assertEqual(call(port, "GET", "/.well-known/openid-configuration")[0], 200)

    def test_finding7_member_nested_just_under_the_limit_is_400_or_accepted(self):
        # Re-encoding a member that the parser just managed must not turn into a 500 either.
        for depth in range(900, 1000, 10):
            body = b'{"grant_type": ' + b"[" * depth + b"]" * depth + b"}"
            status, _, _ = on(RUNNING.auth_server, raw("POST", "/oauth/token", self.JSON, body))
            self.assertLess(status, 500, depth)

    def test_finding7_nested_provider_answer_is_bad_response(self):
        with self.assertRaises(ProviderBadResponse) as caught:
            parse_json_answer("http://provider.example/token", b"[" * 100000, 200)
        self.assertEqual(caught.exception.status_code, 502)


class TestFinding8Cookies(unittest.TestCase):
    """The Cookie header is bounded before it is parsed, and parsed in one linear pass."""

    def test_finding8_oversized_cookie_header_is_400(self):
        huge = {"Cookie": "demo_session=" + "a" * httpkit.COOKIE_MAX}
        status, headers, body = on(RUNNING.app_server, raw("GET", "/", huge))
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        self.assertEqual((status, error_code(body, headers["Content-Type"])),
                         (400, "invalid_request"))
        answer = on(RUNNING.app_server, raw("GET", "/api/protected", huge))
        self.assertEqual(status_and_code(answer), (400, "invalid_request"))

    def test_finding8_cve_2024_7592_shape_is_refused_unparsed(self):
        quadratic = {"Cookie": 'a="' + "\\" * 60000 + '"'}   # SimpleCookie's worst case
        answer = on(RUNNING.app_server, raw("GET", "/", quadratic))
        self.assertEqual(status_and_code(answer), (400, "invalid_request"))

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
        cookies = {"Cookie": f'_ga=GA1.1; theme; {jar}'}
        status, _, body = on(RUNNING.app_server, raw("GET", "/", cookies))
        self.assertEqual(status, 200)
        self.assertIn(b'name="form_token"', body)   # the logged-in page, from our cookie


class TestFinding9Host(unittest.TestCase):
    """DNS rebinding: each server answers only to its own names on its own port."""

    def rebound(self, server, method: str, path: str, body: bytes = b"") -> tuple:
        """A request from a page on the attacker's name, rebound to this server's address."""
        port = port_of(server)
        form = {"Origin": f"http://{REBIND}:{port}",
                "Content-Type": "application/x-www-form-urlencoded"}
        data = raw(method, path, form, body, host=f"{REBIND}:{port}")
        return status_and_code(on(server, data, port=port))

    def test_finding9_app_refuses_a_rebound_host(self):
        self.assertEqual(self.rebound(RUNNING.app_server, "GET", "/"), (421, "invalid_request"))
        self.assertEqual(self.rebound(RUNNING.app_server, "POST", "/attacks/run",
                                      b"attack=a&form_token=x"), (421, "invalid_request"))
        self.assertEqual(self.rebound(RUNNING.app_server, "GET", "/api/protected"),
                         (421, "invalid_request"))

    def test_finding9_embedded_server_refuses_a_rebound_host(self):
        self.assertEqual(self.rebound(RUNNING.auth_server, "GET", "/authorize?client_id=x"),
                         (421, "invalid_request"))
        self.assertEqual(self.rebound(RUNNING.auth_server, "POST", "/oauth/token",
                                      b"grant_type=authorization_code"), (421, "invalid_request"))

    def test_finding9_loopback_server_refuses_a_rebound_host(self):
        with LoopbackServer(0, PendingLogins(), "the CLI") as loop:
            rebound = call(loop.port, "GET", "/callback?state=s&code=c",
                           headers={"Host": f"{REBIND}:{loop.port}"})
            self.assertEqual(rebound[0], 421)   # its "still waiting" page carries no code
            own = call(loop.port, "GET", "/callback?state=s&code=c",
                       headers={"Host": f"127.0.0.1:{loop.port}"})
            self.assertEqual(own[0], 400)            # reached the route: a stray state

    def test_finding9_own_names_and_port_only(self):
        port = port_of(RUNNING.app_server)
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}",
                     f"LOCALHOST:{port}"):
            answer = on(RUNNING.app_server, raw("GET", "/", host=host), port=port)
            self.assertEqual(answer[0], 200, host)
        for host in (f"localhost:{port + 1}", "localhost", f"127.0.0.2:{port}",
                     f"localhost.:{port}", f"{REBIND}:{port}"):
            answer = on(RUNNING.app_server, raw("GET", "/", host=host), port=port)
            self.assertEqual(status_and_code(answer), (421, "invalid_request"), host)

    def test_finding9_http11_without_host_is_400(self):
        missing = on(RUNNING.app_server, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        self.assertEqual(status_and_code(missing), (400, "invalid_request"))
        two = b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: %s\r\n\r\n" % REBIND.encode()
        self.assertEqual(status_and_code(on(RUNNING.app_server, two)), (400, "invalid_request"))

    def test_finding9_origin_checked_against_own_origins_not_host(self):
        port = port_of(RUNNING.app_server)

        def logout_from(origin: str) -> tuple:
            headers = {"Origin": origin, "Content-Type": "application/x-www-form-urlencoded"}
            data = raw("POST", "/logout", headers, host=f"localhost:{port}")
            return status_and_code(on(RUNNING.app_server, data, port=port))

        self.assertEqual(logout_from(f"http://127.0.0.1:{port}")[0], 303)   # our own page
        self.assertEqual(logout_from(f"http://localhost:{port + 1}"), (403, "invalid_request"))

    def test_finding9_public_host_setting(self):
        with tempfile.TemporaryDirectory() as tmp:
            args = _Args(Path(tmp) / ".env")
            args.env_file.write_text("OAUTH_PUBLIC_HOST=Demo.Example.org\n")
            self.assertEqual(settings.build(args, environ={}).public_host, "demo.example.org")
            with self.assertRaises(ConfigError):
                settings.build(args, environ={"OAUTH_PUBLIC_HOST": "http://demo.example.org:80"})
            cfg = settings.build(args, environ={})
        port = 8091

        def get_ok(host: str) -> int:
            return socketless(BuggyHandler, raw("GET", "/ok", host=host), object(), port=port,
                              public_host=cfg.public_host)[0]

        self.assertEqual(get_ok(f"demo.example.org:{port}"), 200)
        self.assertEqual(get_ok(f"{REBIND}:{port}"), 421)
        server = SocketlessServer(object(), port, cfg.public_host)
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
            self.assertEqual(error_code(answer.partition(b"\r\n\r\n")[2], "application/json"),
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
