"""Shared test helpers: expensive fixtures built once per test process, the RFC error code
of an answer, raw bytes over a socket, and a handler run without any socket at all."""
from __future__ import annotations

import email.parser
import functools
import html
import io
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from oauthdemo.core.jose import RSAPrivateKey, generate_rsa_key, rsa_private_key_from_jwk
from oauthdemo.server.keys import KEY_CACHE_FILENAME
from oauthdemo.core.paths import write_private_file


@functools.lru_cache(maxsize=None)
def shared_rsa_key() -> RSAPrivateKey:
    """One 2048-bit RSA key for every test (pure-Python generation takes about a second)."""
    return generate_rsa_key(2048)


# RFC 7515 Appendix A.2: a published 2048-bit RSA key. Tests use it as "another key" (an
# attacker's, the next one after a rotation): generating a second key would cost seconds.
A2_JWK = {
    "kty": "RSA",
    "n": "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx"
         "HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMs"
         "D1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSH"
         "SXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdV"
         "MTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8"
         "NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
    "e": "AQAB",
    "d": "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97I"
         "jlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0"
         "BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn"
         "439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYT"
         "CBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLh"
         "BOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ",
    "p": "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdi"
         "YrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPG"
         "BY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc",
    "q": "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxa"
         "ewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA"
         "-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc",
    "dp": "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3Q"
          "CLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb"
          "34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0",
    "dq": "h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa"
          "7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-ky"
          "NlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU",
    "qi": "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2o"
          "y26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLU"
          "W0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U",
}


@functools.lru_cache(maxsize=None)
def a2_key() -> RSAPrivateKey:
    """The RFC 7515 A.2 key: a real 2048-bit key that is not ours."""
    return rsa_private_key_from_jwk(A2_JWK)


def cache_signing_key(cache_dir, key: RSAPrivateKey | None = None) -> Path:
    """Put ``key`` (default: the shared one) in the 0600 key cache, as a demo that ran with
    this cache would have: the CLI trusts a running embedded server only if it publishes it."""
    key = key or shared_rsa_key()
    path = Path(cache_dir) / KEY_CACHE_FILENAME
    write_private_file(path, json.dumps(key.to_jwk(private=True)).encode("utf-8"))
    return path


# templates/error.html: the card carries the RFC code, so a test never reads page prose.
DATA_ERROR = re.compile(r'\sdata-error="([^"]*)"')


def error_code(answer, content_type: str = "") -> str | None:
    """The RFC error code an answer carries: JSON ``error`` (APIs) or the error page's
    ``data-error`` attribute. ``answer`` is a body (bytes or str) with its Content-Type, or
    a ScriptedBrowser Response. None when the answer carries no code."""
    if hasattr(answer, "body"):
        answer, content_type = answer.body, answer.headers.get("Content-Type", "")
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else answer
    if content_type.startswith("application/json"):
        return json.loads(text).get("error")
    found = DATA_ERROR.search(text)
    return html.unescape(found.group(1)) if found else None


class SocketlessServer:
    """What a handler reads from its server (CPython's test_httpservers does the same): the
    bound address, the public host, and the state object (``app``). Port 80 by default,
    the one port a Host header may leave out, so ``Host: localhost`` is this server's."""

    def __init__(self, app, port: int = 80, public_host: str = ""):
        self.app = app
        self.server_address = ("127.0.0.1", port)
        self.public_host = public_host


def socketless(handler_cls, raw_request: bytes, app, *, port: int = 80,
               public_host: str = "") -> tuple:
    """One request through ``handler_cls`` with no socket: the raw bytes are its input, what
    it writes is parsed back. Returns (status, headers, body); headers is an
    email.message.Message (``headers["Content-Type"]``, ``headers.get_all("Set-Cookie")``).

    CPython's SocketlessRequestHandler pattern (Lib/test/test_httpservers.py): for what
    the handler decides, a socket adds nothing but time. Whatever needs the socket itself
    (timeouts, connection caps, a server that keeps serving) is tested over one."""
    handler = handler_cls.__new__(handler_cls)   # no __init__: it would read a socket
    handler.server = SocketlessServer(app, port, public_host)
    handler.client_address = ("127.0.0.1", 0)
    handler.request = handler.connection = None
    handler.rfile, handler.wfile = io.BytesIO(raw_request), io.BytesIO()
    handler.close_connection = True
    handler.handle_one_request()
    return parse_answer(handler.wfile.getvalue())


def parse_answer(answer: bytes) -> tuple:
    """An HTTP/1.x answer's bytes as (status, headers, body)."""
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, _, fields = head.partition(b"\r\n")
    headers = email.parser.BytesHeaderParser().parsebytes(fields + b"\r\n\r\n")
    return int(status_line.split(b" ", 2)[1]), headers, body


def send_raw(port: int, data: bytes, timeout: float = 5) -> bytes:
    """Bytes in, every byte of the answer out (until the server closes): the wire itself."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


class JsonServer:
    """Someone else's server on 127.0.0.1, port 0 (a provider's JWKS, an impostor): GET of a
    path in ``documents(base_url)`` answers that JSON, anything else 404. Counts requests."""

    def __init__(self, documents):
        self.documents, self.paths = documents, []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.paths.append(self.path)
                docs = owner.documents(owner.base_url)
                body = json.dumps(docs.get(self.path, {"error": "not_found"})).encode()
                self.send_response(200 if self.path in docs else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base_url = f"http://localhost:{self.port}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    @property
    def fetches(self) -> int:
        return len(self.paths)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
