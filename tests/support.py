"""Shared test helpers: expensive fixtures are built once per test process."""
from __future__ import annotations

import functools
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from oauthdemo.core.jose import RSAPrivateKey, generate_rsa_key
from oauthdemo.server.keys import KEY_CACHE_FILENAME
from oauthdemo.core.paths import write_private_file


@functools.lru_cache(maxsize=None)
def shared_rsa_key() -> RSAPrivateKey:
    """One 2048-bit RSA key for every test (pure-Python generation takes about a second)."""
    return generate_rsa_key(2048)


def cache_signing_key(cache_dir, key: RSAPrivateKey | None = None) -> Path:
    """Put ``key`` (default: the shared one) in the 0600 key cache, as a demo that ran with
    this cache would have: the CLI trusts a running embedded server only if it publishes it."""
    key = key or shared_rsa_key()
    path = Path(cache_dir) / KEY_CACHE_FILENAME
    write_private_file(path, json.dumps(key.to_jwk(private=True)).encode("utf-8"))
    return path


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
