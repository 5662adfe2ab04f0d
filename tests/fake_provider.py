"""A deliberately misbehaving OpenID provider, for testing what the client refuses.

It is honest about discovery and JWKS, and its /authorize sends the browser straight
back with a code; its token endpoint then returns an ID token spoiled in the way the
test asks (bad signature, wrong iss/aud, expired, wrong nonce, alg none, HS256 key
confusion, or a kid the client has not seen yet).
"""
from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from oauthdemo.core.jose import b64url_encode, encode_jwt, jwks_document

from .support import a2_key, shared_rsa_key

CLIENT_ID = "fake-client"
ACCESS_TOKEN = "opaque-access-token-123"


class FakeProvider:
    def __init__(self):
        self.key = shared_rsa_key()
        self.other_key = None          # made on demand (generation takes a second)
        self.mode = "good"
        self.nonce = None
        self.published = [self.key]
        self.jwks_fetches = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def second_key(self):
        if self.other_key is None:
            self.other_key = a2_key()   # a published key that is not ours: no second second of keygen
        return self.other_key

    def metadata(self) -> dict:
        return {"issuer": self.issuer, "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token", "jwks_uri": self.issuer + "/jwks",
                "userinfo_endpoint": self.issuer + "/userinfo",
                "code_challenge_methods_supported": ["S256"],
                "id_token_signing_alg_values_supported": ["RS256"]}

    def claims(self) -> dict:
        now = int(time.time())
        return {"iss": self.issuer, "sub": "fake-user", "aud": CLIENT_ID, "iat": now,
                "exp": now + 3600, "nonce": self.nonce, "name": "Fake User"}

    def id_token(self) -> str:
        claims, mode = self.claims(), self.mode
        if mode == "wrong_iss":
            claims["iss"] = "https://evil.example/"
        elif mode == "wrong_aud":
            claims["aud"] = "someone-else"
        elif mode == "expired":
            claims["iat"], claims["exp"] = claims["iat"] - 7200, claims["iat"] - 3600
        elif mode == "nonce_mismatch":
            claims["nonce"] = "not-the-nonce"
        elif mode == "bad_signature":   # another key, but claiming our kid
            return encode_jwt(claims, self.second_key(), headers={"kid": self.key.kid})
        elif mode == "alg_none":
            return unsigned_token(claims)
        elif mode == "hs256_confusion":  # "HMAC with the public key as the secret"
            secret = json.dumps(self.key.public_key.to_jwk()).encode()
            return encode_jwt(claims, secret, alg="HS256", headers={"kid": self.key.kid})
        elif mode == "rotated":
            return encode_jwt(claims, self.second_key())
        return encode_jwt(claims, self.key)

    def handler_class(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, obj, headers=()):
                body = json.dumps(obj).encode()
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query))
                if parts.path == "/.well-known/openid-configuration":
                    return self.reply(200, provider.metadata())
                if parts.path == "/jwks":
                    provider.jwks_fetches += 1
                    return self.reply(200, jwks_document(provider.published))
                if parts.path == "/authorize":
                    provider.nonce = query.get("nonce")
                    back = urllib.parse.urlencode({"code": "fake-code", "state": query["state"],
                                                   "iss": provider.issuer})
                    self.send_response(302)
                    self.send_header("Location", query["redirect_uri"] + "?" + back)
                    self.send_header("Content-Length", "0")
                    return self.end_headers()
                if parts.path == "/userinfo":
                    ok = self.headers.get("Authorization") == f"Bearer {ACCESS_TOKEN}"
                    return self.reply(200, {"sub": "fake-user", "name": "Fake User"}) if ok \
                        else self.reply(401, {"error": "invalid_token"})
                self.reply(404, {"error": "not_found"})

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if provider.mode == "rotated" and provider.second_key() not in provider.published:
                    provider.published = [provider.key, provider.second_key()]
                self.reply(200, {"access_token": ACCESS_TOKEN, "token_type": "Bearer",
                                 "expires_in": 3600, "id_token": provider.id_token()})

        return Handler


def unsigned_token(claims: dict) -> str:
    header = b64url_encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64url_encode(json.dumps(claims).encode())}."
