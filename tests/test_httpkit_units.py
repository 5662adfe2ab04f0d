"""The HTTP toolkit without sockets (CPython's ``SocketlessRequestHandler`` pattern).

What a route returns is a ``Response`` with declared fields; an error becomes a page whose
card names the RFC code in ``data-error`` (or RFC 6749 §5.2 JSON on an API path); a 405
says what is allowed (RFC 9110 §15.5.6). Nothing here needs a port: a request is bytes in
a buffer and the answer is bytes in another.
"""
from __future__ import annotations

import dataclasses
import io
import json
import re
import unittest
from types import SimpleNamespace

from oauthdemo.core.errors import InvalidRequest, InvalidToken, NotFound, TableFull
from oauthdemo.web import httpkit
from oauthdemo.web.httpkit import (BaseHandler, MethodNotAllowedOn, Response, error_response,
                                   json_response, redirect, render)

PORT = 8091


class Socketless(BaseHandler):
    """A handler fed from a buffer: no socket, no deadline timer, no thread."""

    routes = {("GET", "/page"): "page", ("POST", "/page"): "page",
              ("POST", "/api/thing"): "thing"}
    json_paths = ("/api/",)

    def __init__(self, raw: bytes):   # deliberately not BaseRequestHandler.__init__
        self.rfile, self.wfile = io.BytesIO(raw), io.BytesIO()
        self.client_address = ("127.0.0.1", 0)
        self.server = SimpleNamespace(server_address=("127.0.0.1", PORT), public_host="")
        self.handle_one_request()

    def page(self, req):
        return render("error.html", title="t", heading="h", error="none", description="d", hint="")

    def thing(self, req):
        return json_response({"form": req.form()})


def exchange(method: str, path: str, *, body: bytes = b"") -> tuple:
    """One request through a Socketless handler: (status, headers, body)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: localhost:{PORT}\r\n"
    if body:
        head += f"Content-Length: {len(body)}\r\n"
    handler = Socketless((head + "\r\n").encode("ascii") + body)
    raw_head, _, payload = handler.wfile.getvalue().partition(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, payload


def data_error(page: bytes) -> str:
    match = re.search(rb'data-error="([^"]*)"', page)
    return match.group(1).decode() if match else ""


class TestResponseFields(unittest.TestCase):
    def test_every_field_is_declared(self):
        names = [f.name for f in dataclasses.fields(Response)]
        self.assertEqual(names, ["status", "body", "headers", "content_type", "form_action",
                                 "static"])

    def test_defaults_are_a_page_limited_to_our_own_origin(self):
        resp = Response()
        self.assertEqual((resp.status, resp.body, resp.headers), (200, b"", []))
        self.assertEqual(resp.content_type, "text/html; charset=utf-8")
        self.assertEqual((resp.form_action, resp.static), ("'self'", False))

    def test_headers_are_copied_not_shared(self):
        given = [("X-One", "1")]
        resp = Response(200, b"", given).add_header("X-Two", "2")
        self.assertEqual(given, [("X-One", "1")])
        self.assertEqual(resp.headers, [("X-One", "1"), ("X-Two", "2")])
        self.assertEqual(Response(200, b"", None).headers, [])

    def test_form_action_is_set_by_the_constructors(self):
        self.assertEqual(redirect("/x", 303, form_action="'self' http://a.test").form_action,
                         "'self' http://a.test")
        page = render("error.html", title="t", form_action="'self' http://b.test",
                      heading="h", error="e", description="d", hint="")
        self.assertEqual(page.form_action, "'self' http://b.test")

    def test_json_response(self):
        resp = json_response({"a": 1}, 201)
        self.assertEqual((resp.status, resp.content_type), (201, "application/json"))
        self.assertEqual(json.loads(resp.body), {"a": 1})


class TestErrorAnswers(unittest.TestCase):
    def test_error_page_carries_the_rfc_code(self):
        resp = error_response(InvalidRequest("<b>bad</b>"), as_json=False)
        self.assertEqual(resp.status, 400)
        self.assertEqual(data_error(resp.body), "invalid_request")
        self.assertNotIn(b"<b>bad</b>", resp.body)   # the description is escaped

    def test_error_page_hint(self):
        resp = httpkit.error_page(NotFound(), hint="try /")
        self.assertEqual((resp.status, data_error(resp.body)), (404, "not_found"))

    def test_api_errors_are_json_with_a_challenge_on_401(self):
        resp = error_response(InvalidToken(), as_json=True)
        self.assertEqual(json.loads(resp.body)["error"], "invalid_token")
        self.assertIn(("WWW-Authenticate", InvalidToken().www_authenticate()), resp.headers)

    def test_method_not_allowed_declares_what_is_allowed(self):
        err = MethodNotAllowedOn("PUT", "/page", ("GET", "HEAD", "POST"))
        self.assertEqual((err.status_code, err.allow), (405, ("GET", "HEAD", "POST")))
        resp = error_response(err, as_json=True)
        self.assertEqual(resp.status, 405)
        self.assertIn(("Allow", "GET, HEAD, POST"), resp.headers)

    def test_a_full_table_says_when_to_retry(self):
        resp = error_response(TableFull("full", retry_after=7), as_json=True)
        self.assertEqual(resp.status, 503)
        self.assertIn(("Retry-After", "7"), resp.headers)


class TestSocketlessHandler(unittest.TestCase):
    def test_a_page_gets_the_security_headers(self):
        status, headers, _ = exchange("GET", "/page")
        self.assertEqual(status, 200)
        self.assertIn("form-action 'self';", headers["Content-Security-Policy"])
        self.assertEqual(headers["Cache-Control"], "no-store")

    def test_405_lists_the_allowed_methods(self):
        status, headers, page = exchange("DELETE", "/page")
        self.assertEqual((status, headers["Allow"]), (405, "GET, POST, HEAD"))
        self.assertEqual(data_error(page), "invalid_request")

    def test_unknown_path_is_a_404_page(self):
        status, _, page = exchange("GET", "/nowhere")
        self.assertEqual((status, data_error(page)), (404, "not_found"))

    def test_api_path_errors_are_json(self):
        status, headers, body = exchange("GET", "/api/thing")
        self.assertEqual((status, headers["Allow"]), (405, "POST"))
        self.assertEqual(json.loads(body)["error"], "invalid_request")

    def test_repeated_parameter_is_refused(self):
        status, _, page = exchange("GET", "/page?a=1&a=2")
        self.assertEqual((status, data_error(page)), (400, "invalid_request"))

    def test_static_files_are_cacheable_and_carry_no_page_headers(self):
        status, headers, _ = exchange("GET", "/static/app.css")
        self.assertEqual((status, headers["Cache-Control"]), (200, "max-age=300"))
        self.assertNotIn("Content-Security-Policy", headers)

    def test_head_sends_no_body(self):
        status, headers, body = exchange("HEAD", "/page")
        self.assertEqual((status, body), (200, b""))
        self.assertGreater(int(headers["Content-Length"]), 0)

    def test_a_form_body_is_read(self):
        status, _, body = exchange("POST", "/api/thing", body=b"x=1")
        self.assertEqual((status, json.loads(body)), (200, {"form": {"x": "1"}}))


if __name__ == "__main__":
    unittest.main()
