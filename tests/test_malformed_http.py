"""Malformed HTTP against both servers (the app and the embedded authorization server).

Every case is raw bytes, because a well-behaved client library cannot even produce most
of them. Each must get its exact 4xx (RFC 9110 §15.5, RFC 9112 §3 and §6.3, RFC 6585 §5)
with its RFC error code: JSON on API paths and an escaped page elsewhere, never a
traceback. The cases are fed to the real handlers without a socket (``socketless``, as
CPython's test_httpservers does); over real sockets, the servers must answer a normal
request right after the worst of them, and cut off a client that drips its request.
"""
from __future__ import annotations

import socket
import unittest

from oauthdemo.web.httpkit import MAX_BODY

from .demo_fixtures import start_test_demo
from .support import error_code, send_raw, socketless

RAW_TIMEOUT = 5                 # seconds; a server that never answers fails instead of hanging
LINE_LIMIT = 65536              # http.server's longest request or header line
TRACEBACK_MARKERS = (b"Traceback", b'File "')
SCRIPT = b"<script>alert(1)</script>"


def raw_exchange(port: int, data: bytes) -> tuple:
    """Send bytes, read until the server closes. Returns (status, headers, body)."""
    # The servers answer only to their own port (DNS rebinding): request() cannot know it.
    data = data.replace(b"\r\nHost: localhost\r\n", b"\r\nHost: localhost:%d\r\n" % port, 1)
    head, _, body = send_raw(port, data, RAW_TIMEOUT).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def request(method: str, target: bytes, headers: bytes = b"", body: bytes = b"") -> bytes:
    return (method.encode() + b" " + target + b" HTTP/1.1\r\nHost: localhost\r\n" + headers
            + b"Connection: close\r\n\r\n" + body)


def setUpModule():
    global RUNNING
    RUNNING, _ = start_test_demo()


def tearDownModule():
    RUNNING.stop()


class MalformedCases:
    """The cases; subclasses say which server and which of its paths are API and page."""

    server_attr = ""
    healthy = b"/"                 # answers 200 to a plain GET
    api_get = b""                  # GET path whose errors are JSON
    api_post = b""                 # POST path whose errors are JSON
    page_get = b""                 # GET path whose errors are HTML pages
    page_post = b""                # POST path whose errors are HTML pages

    def exchange(self, data: bytes) -> tuple:
        """``data`` through this server's handler and state, without a socket."""
        server = getattr(RUNNING, self.server_attr)
        return socketless(server.RequestHandlerClass, data, server.app)

    def refused(self, data: bytes, status: int, as_json: bool,
                code: str = "invalid_request") -> bytes:
        """Assert the answer to ``data``: its status, its RFC code, JSON or a page."""
        got, headers, body = self.exchange(data)
        self.assertEqual(got, status, body[:300])
        ctype = headers.get("Content-Type", "")
        if as_json:
            self.assertEqual(ctype, "application/json")
        else:
            self.assertTrue(ctype.startswith("text/html"), ctype)
            self.assertIn(b"<!doctype html>", body.lower())
        self.assertEqual(error_code(body, ctype), code)
        for marker in TRACEBACK_MARKERS:
            self.assertNotIn(marker, body)
        return body

    # -- the request line ------------------------------------------------------------------
    def test_bad_request_line_is_400_and_its_echo_escaped(self):
        body = self.refused(b"GARBAGE" + SCRIPT + b"\r\n\r\n", 400, as_json=False)
        self.assertNotIn(SCRIPT, body)
        self.assertIn(b"&lt;script&gt;", body)

    def test_bad_http_version_is_400(self):
        self.refused(b"GET / HTTP/one.one\r\n\r\n", 400, as_json=False)

    def test_request_line_over_64k_is_414(self):
        self.refused(request("GET", b"/" + b"a" * LINE_LIMIT), 414, as_json=False)

    # -- headers ---------------------------------------------------------------------------
    def test_header_line_over_64k_is_431_json_on_api(self):
        huge = b"X-Huge: " + b"a" * LINE_LIMIT + b"\r\n"
        self.refused(request("GET", self.api_get, huge), 431, as_json=True)

    def test_header_line_over_64k_is_431_page(self):
        huge = b"X-Huge: " + b"a" * LINE_LIMIT + b"\r\n"
        self.refused(request("GET", self.page_get, huge), 431, as_json=False)

    def test_more_than_100_headers_is_431(self):
        many = b"".join(b"X-H%d: 1\r\n" % i for i in range(101))
        self.refused(request("POST", self.api_post, many), 431, as_json=True)

    # -- the target: percent-encoding and UTF-8 ------------------------------------------------
    def test_invalid_percent_encoding_in_query_is_400_json_on_api(self):
        self.refused(request("GET", self.api_get + b"?x=%zz"), 400, as_json=True)

    def test_invalid_percent_encoding_on_a_page_is_400_page(self):
        self.refused(request("GET", self.page_get + b"?state=%G1&code=%"), 400, as_json=False)

    def test_invalid_percent_encoding_in_path_is_400(self):
        self.refused(request("GET", b"/%zz"), 400, as_json=False)

    def test_invalid_utf8_in_query_is_400(self):
        self.refused(request("GET", self.api_get + b"?x=%ff%fe"), 400, as_json=True)
        self.refused(request("GET", self.page_get + b"?state=%c3%28"), 400, as_json=False)

    def test_raw_non_ascii_bytes_in_target_are_400(self):
        self.refused(request("GET", self.api_get + b"?x=\xff"), 400, as_json=True)

    # -- Content-Length and the body -----------------------------------------------------------
    def test_non_numeric_content_length_is_400(self):
        self.refused(request("POST", self.api_post, b"Content-Length: abc\r\n"), 400, True)
        self.refused(request("POST", self.page_post, b"Content-Length: abc\r\n"), 400, False)

    def test_negative_content_length_is_400(self):
        self.refused(request("POST", self.api_post, b"Content-Length: -5\r\n"), 400, True)
        self.refused(request("POST", self.page_post, b"Content-Length: -5\r\n"), 400, False)

    def test_superscript_digit_content_length_is_400(self):
        # "²".isdigit() is True but int("²") fails: the check must be ASCII digits only.
        self.refused(request("POST", self.api_post, "Content-Length: ²\r\n".encode("latin-1")),
                     400, True)

    def test_conflicting_content_lengths_are_400(self):
        self.refused(request("POST", self.api_post, b"Content-Length: 3\r\nContent-Length: 30\r\n",
                             b"a=b"), 400, True)

    def test_body_over_the_limit_is_413(self):
        too_big = b"Content-Length: %d\r\n" % (MAX_BODY + 1)
        self.refused(request("POST", self.api_post, too_big), 413, as_json=True)
        self.refused(request("POST", self.page_post, too_big), 413, as_json=False)

    # -- methods ---------------------------------------------------------------------------
    def test_put_is_405_with_allow(self):
        self.refused(request("PUT", self.api_post), 405, as_json=True)
        _, headers, _ = self.exchange(request("PUT", self.api_post))
        self.assertIn("POST", headers.get("Allow", ""))

    def test_unknown_method_is_405(self):
        self.refused(request("BREW", self.page_get), 405, as_json=False)
        self.refused(request("BREW", self.api_get), 405, as_json=True)


class TestMalformedAtTheApp(MalformedCases, unittest.TestCase):
    server_attr = "app_server"
    api_get = b"/api/protected"
    api_post = b"/api/protected"   # no POST route: framing and method checks still answer JSON
    page_get = b"/callback"
    page_post = b"/logout"

    def test_put_is_405_with_allow(self):
        self.refused(request("PUT", self.api_get), 405, as_json=True)
        _, headers, _ = self.exchange(request("PUT", self.api_get))
        self.assertEqual(headers.get("Allow"), "GET, HEAD")


class TestMalformedAtTheAuthorizationServer(MalformedCases, unittest.TestCase):
    server_attr = "auth_server"
    healthy = b"/.well-known/openid-configuration"
    api_get = b"/userinfo"
    api_post = b"/oauth/token"
    page_get = b"/authorize"
    page_post = b"/authorize/login"


class TestOverRealSockets(unittest.TestCase):
    """The worst cases over a real connection: each answered, and the server serves on."""

    WORST = (b"GARBAGE" + SCRIPT + b"\r\n\r\n",
             request("GET", b"/" + b"a" * LINE_LIMIT),
             request("GET", b"/", b"X-Huge: " + b"a" * LINE_LIMIT + b"\r\n"),
             request("POST", b"/", b"Content-Length: %d\r\n" % (MAX_BODY + 1)),
             request("POST", b"/", b"Content-Length: 3\r\nContent-Length: 30\r\n", b"a=b"))

    def test_every_server_answers_the_worst_cases_and_serves_on(self):
        for name, healthy in (("app_server", b"/"),
                              ("auth_server", b"/.well-known/openid-configuration")):
            port = getattr(RUNNING, name).server_address[1]
            for data in self.WORST:
                with self.subTest(server=name, request=data[:40]):
                    status, _, body = raw_exchange(port, data)
                    self.assertTrue(400 <= status < 500, status)
                    self.assertNotIn(b"Traceback", body)
                    self.assertEqual(raw_exchange(port, request("GET", healthy))[0], 200)

    def test_a_smuggled_second_request_is_never_answered(self):
        # Conflicting lengths: the bytes after the body must not be read as a request.
        port = RUNNING.app_server.server_address[1]
        smuggled = request("POST", b"/logout", b"Content-Length: 3\r\nContent-Length: 30\r\n",
                           b"a=b" + request("GET", b"/"))
        self.assertEqual(send_raw(port, smuggled, RAW_TIMEOUT).count(b"HTTP/1."), 1)


class TestSlowClients(unittest.TestCase):
    """Slowloris: a client that drips its request, one byte just inside every read timeout,
    is cut off at the request deadline instead of holding its thread forever."""

    def test_dripping_client_is_disconnected_at_the_deadline(self):
        handler = RUNNING.app_server.RequestHandlerClass
        handler.request_deadline = 0.5   # the app's handler inherits httpkit's; restored below
        self.addCleanup(delattr, handler, "request_deadline")
        port = RUNNING.app_server.server_address[1]
        with socket.create_connection(("127.0.0.1", port), timeout=RAW_TIMEOUT) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\n")
            sock.settimeout(0.1)          # each wait for an answer doubles as the drip pace
            closed = False
            for _ in range(100):          # at most ~10 s of dripping
                try:
                    sock.sendall(b"X-Drip: 1\r\n")
                    closed = sock.recv(1024) == b""
                except socket.timeout:
                    continue
                except OSError:
                    closed = True
                if closed:
                    break
        self.assertTrue(closed, "the server kept a dripping connection open past its deadline")
        self.assertEqual(raw_exchange(port, request("GET", b"/"))[0], 200)


if __name__ == "__main__":
    unittest.main()
