"""The registered clients of the embedded server, and how they authenticate.

RFC 6749 §2 (client registration: §2.1 client types, §2.3 client authentication,
§2.3.1 ``client_secret_basic`` / ``client_secret_post``), §3.1.2.3 (an exact
redirect_uri match), RFC 8252 §7.3 (native apps: a loopback redirect on any port) and
RFC 7662 §2.1 (a resource server that may introspect). The four demo clients come from
the embedded server's settings; two with the same id would silently replace one another,
so that is refused.
"""
from __future__ import annotations

import base64
import hmac
import secrets
import urllib.parse
from dataclasses import dataclass, replace

from oauthdemo.core.records import Record
from oauthdemo.core.errors import ConfigError, InvalidClient
from oauthdemo.core.loopback import CALLBACK_PATHS, is_loopback_callback
from oauthdemo.settings import (BACKEND_CLIENT_ID, CLI_CLIENT_ID, SERVICE_CLIENT_ID,
                                WEB_CLIENT_ID)

SECRET_BYTES = 32   # a generated client secret: 256 bits
# The CLI's loopback redirect: our own /callback, and / as google-auth-oauthlib's
# InstalledAppFlow.run_local_server (the common Python installed-app helper) always sends.
NATIVE_LOOPBACK_PATHS = ("/callback", "/")


@dataclass
class Client(Record):   # immutable: see core.records
    """A registered application. Public clients have no secret and must use PKCE."""
    client_id: str
    name: str
    redirect_uris: tuple = ()
    logout_urls: tuple = ()
    secret: str | None = None
    loopback_any_port: bool = False   # RFC 8252 §7.3, for native (CLI / mobile) clients
    loopback_paths: tuple = CALLBACK_PATHS   # … and the paths its loopback redirect may take
    can_introspect: bool = False      # a resource server: may ask RFC 7662 about tokens
    service: bool = False             # a machine acting as itself: client_credentials
    device: bool = False              # a device without a browser: RFC 8628's device grant
    require_par: bool = False         # RFC 9126 §6: its authorization requests must be pushed

    def accepts_redirect(self, uri: str) -> bool:
        if uri in self.redirect_uris:   # exact string match (RFC 6749 §3.1.2.3)
            return True
        return self.loopback_any_port and is_loopback_callback(uri, self.loopback_paths)


class ClientRegistry:
    """client_id → Client, built once from the embedded server's client settings."""

    def __init__(self, *, web_client_id: str = WEB_CLIENT_ID,
                 native_client_id: str = CLI_CLIENT_ID, backend_client_id: str = BACKEND_CLIENT_ID,
                 backend_secret: str | None = None, resource_client_id: str = "demo-api",
                 service_client_id: str = SERVICE_CLIENT_ID, service_secret: str | None = None):
        ids = (web_client_id, native_client_id, backend_client_id, resource_client_id,
               service_client_id)
        if len(set(ids)) != len(ids):   # one would silently replace another
            raise ConfigError("The embedded server's client ids must all differ: "
                              + ", ".join(ids) + ".")
        self.web_client_id, self.native_client_id = web_client_id, native_client_id
        self.backend_client_id, self.resource_client_id = backend_client_id, resource_client_id
        self.service_client_id = service_client_id
        self._clients = {client.client_id: client for client in (
            Client(web_client_id, "Walkthrough web app (public, PKCE)"),
            Client(native_client_id, "CLI login (native, loopback)", loopback_any_port=True,
                   loopback_paths=NATIVE_LOOPBACK_PATHS, device=True),
            Client(backend_client_id, "Mobile backend (confidential)",
                   secret=backend_secret or new_secret(), loopback_any_port=True),
            Client(resource_client_id, "Protected API (resource server)",
                   secret=new_secret(), can_introspect=True),
            Client(service_client_id, "Demo service (confidential, client credentials)",
                   secret=service_secret or new_secret(), service=True))}

    def __getitem__(self, client_id: str) -> Client:
        return self._clients[client_id]

    def __contains__(self, client_id) -> bool:
        return client_id in self._clients

    def get(self, client_id: str, default=None) -> Client | None:
        return self._clients.get(client_id, default)

    def register_web_app(self, app_base_urls) -> None:
        """The public client's callback follows whatever port the app is on."""
        bases = [u.rstrip("/") for u in app_base_urls]
        web = self._clients[self.web_client_id]
        self._clients[web.client_id] = replace(
            web, redirect_uris=tuple(f"{b}/callback" for b in bases),
            logout_urls=tuple(f"{b}/" for b in bases) + tuple(bases))

    def require_par(self, client_id: str, required: bool = True) -> None:
        """RFC 9126 §6: this client's requests are accepted only when pushed."""
        self._clients[client_id] = replace(self._clients[client_id], require_par=required)

    def authenticate(self, params: dict, authorization: str | None) -> Client:
        """RFC 6749 §2.3: secrets by client_secret_basic or client_secret_post; a public
        client sends its id alone, and must not pretend to have a secret."""
        client_id, secret = params.get("client_id"), params.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            client_id, secret = basic_alone(authorization, params)
        client = self._clients.get(client_id or "")
        if client is None:
            raise InvalidClient("Unknown client_id.")
        if client.secret is None:
            if secret:
                raise InvalidClient("This is a public client: it has no secret to send.")
            return client
        if not secret or not hmac.compare_digest(secret.encode(), client.secret.encode()):
            raise InvalidClient("Client authentication failed (wrong or missing secret).")
        return client


def basic_alone(authorization: str, params: dict) -> tuple:
    """client_secret_basic, and nothing that contradicts it. RFC 6749 §2.3: a client "MUST
    NOT use more than one authentication method in each request", so a secret in the body
    as well is refused; a client_id in the body may repeat the header's (RFC 6749 §4.1.3,
    as many libraries send it) but never name another client, which would otherwise be
    silently replaced by the authenticated one."""
    client_id, secret = parse_basic(authorization)
    if "client_secret" in params:
        raise InvalidClient("More than one client authentication method (Basic header and "
                            "client_secret in the body); use one (RFC 6749 section 2.3).")
    if "client_id" in params and params["client_id"] != client_id:
        raise InvalidClient("The client_id in the body is not the client the Basic header "
                            "authenticates.")
    return client_id, secret


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def parse_basic(header: str) -> tuple:
    """RFC 6749 §2.3.1: client_id and secret are form-urlencoded, then base64'd."""
    try:
        raw = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidClient("Malformed Basic authorization header.") from err
    client_id, sep, secret = raw.partition(":")
    if not sep:
        raise InvalidClient("Malformed Basic authorization header.")
    return urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)
