"""The embedded authorization server: an Auth0 stand-in on its own port and origin.

This module composes the parts, one per concern, and starts them on a port:

* ``clients``   — the registered clients and client authentication (RFC 6749 §2)
* ``store``     — the grant store: every table, behind one lock (the one seam)
* ``authorize`` — /authorize, login and consent (RFC 6749 §4.1.1–4.1.2, RFC 7636 §4.4,
  OIDC Core §3.1.2, RFC 9207)
* ``token``     — /oauth/token and the code grant (RFC 6749 §4.1.3, §5; RFC 7636 §4.6)
* ``device``    — the device grant and its /activate pages (RFC 8628)
* ``client_credentials`` — a service's own token (RFC 6749 §4.4)
* ``refresh``   — refresh token rotation with reuse detection (RFC 6749 §6, RFC 9700 §4.14.2)
* ``revoke``, ``introspect``, ``userinfo``, ``access`` — RFC 7009, RFC 7662, OIDC Core §5.3,
  and the check of our own access tokens (RFC 9068)
* ``par``       — pushed authorization requests at /oauth/par (RFC 9126)
* ``discovery`` — the issuer and its metadata (RFC 8414, OIDC Discovery §3)
* ``handler``   — the HTTP face; ``inspect`` — read-only records for the teaching pages

It uses Auth0's paths (/authorize, /oauth/token, /userinfo, /.well-known/jwks.json,
/oauth/revoke, /v2/logout) and its status codes, so the client code that talks to it is
exactly the code that talks to a real tenant. It tells its side of the story as events
(``core.events``): Step 4 (storing the challenge), Step 5 (authentication) and Step 8
(recomputing SHA-256 of the verifier); the console narrator is one subscriber.
"""
from __future__ import annotations

import dataclasses
import time

from oauthdemo.core import paths
from oauthdemo.core.events import EventBus
from oauthdemo.server.access import AccessTokens
from oauthdemo.server.authorize import AuthorizeEndpoint
from oauthdemo.server.client_credentials import ClientCredentialsGrant
from oauthdemo.server.clients import ClientRegistry
from oauthdemo.server.device import DeviceGrant, DeviceHistory
from oauthdemo.server.device import GRANT_TYPE as DEVICE_GRANT_TYPE
from oauthdemo.server.discovery import Issuer, metadata
from oauthdemo.server.handler import AuthServerHandler
from oauthdemo.server.inspect import Inspector
from oauthdemo.server.introspect import Introspection
from oauthdemo.server.keys import SigningKeyStore
from oauthdemo.server.par import PushedRequests
from oauthdemo.server.refresh import RefreshGrant, RefreshTokens
from oauthdemo.server.revoke import Revocation
from oauthdemo.server.store import GrantStore, Limits
from oauthdemo.server.token import CodeGrant, TokenEndpoint, TokenIssuer
from oauthdemo.server.userinfo import UserInfo
from oauthdemo.server.users import DEMO_USERS
from oauthdemo.web import httpkit

__all__ = ["AuthorizationServer", "AuthServerHandler", "DEFAULT_AUDIENCE", "DEMO_USERS",
           "start_embedded"]

DEFAULT_AUDIENCE = "urn:oauth-pkce-demo:api"   # the one API registered here, as in Auth0


class AuthorizationServer:
    """The embedded server's parts, wired together; ``AuthServerHandler`` is its HTTP face."""

    def __init__(self, keys, *, events: EventBus | None = None, clock=time.time,
                 audience: str = DEFAULT_AUDIENCE, limits: Limits = Limits(),
                 require_par: bool = False, device_interval: int = 5, **client_settings):
        self.keys, self.clock, self.audience = keys, clock, audience
        self.device_interval = device_interval
        self.events = events or EventBus()
        self.site = Issuer()   # the issuer identifier every part shares, known once bound
        self.clients = ClientRegistry(**client_settings)
        self.web_client_id = self.clients.web_client_id            # the walkthrough app
        self.native_client_id = self.clients.native_client_id      # the CLI
        self.backend_client_id = self.clients.backend_client_id    # the mobile backend
        self.resource_client_id = self.clients.resource_client_id  # the protected API
        self.service_client_id = self.clients.service_client_id    # client credentials
        self.store = GrantStore(clock, limits)
        self.device_history = DeviceHistory()    # RFC 8628 logins, for the walkthrough
        self.inspect = Inspector(self.store, self.clients, self.device_history)
        self._wire(RefreshTokens())
        self.pushed = PushedRequests(self.clients, self.authorization, clock=self.clock,
                                     events=self.events, require_par=require_par)

    def _wire(self, refresh_tokens: RefreshTokens) -> None:
        """Each grant module gets the store and the few parts it calls, nothing more."""
        store, events, clock = self.store, self.events, self.clock
        self.access_tokens = AccessTokens(self.keys, store, self.site, clock)
        self.revocation = Revocation(store, self.access_tokens, refresh_tokens, events)
        self.tokens = TokenIssuer(self.keys, store, self.site, refresh_tokens, clock)
        self.authorization = AuthorizeEndpoint(self.clients, store, self.site,
                                               audience=self.audience, clock=clock,
                                               events=events)
        self.code_grant = CodeGrant(store, self.tokens, self.revocation, clock, events)
        self.refresh_grant = RefreshGrant(store, refresh_tokens, self.tokens, self.revocation,
                                          events)
        self.device = DeviceGrant(self.clients, store, self.tokens, self.site,
                                  audience=self.audience, clock=clock, events=events,
                                  interval=self.device_interval, history=self.device_history)
        self.service_grant = ClientCredentialsGrant(self.tokens, store,
                                                    audience=self.audience, clock=clock,
                                                    events=events)
        self.token_endpoint = TokenEndpoint(self.clients, {
            "authorization_code": self.code_grant.redeem,
            "refresh_token": self.refresh_grant.redeem,
            DEVICE_GRANT_TYPE: self.device.redeem,
            "client_credentials": self.service_grant.redeem})
        self.introspection = Introspection(store, self.access_tokens, refresh_tokens,
                                           self.site, events, api_audience=self.audience)
        self.userinfo = UserInfo(self.access_tokens)

    # -- what the rest of the demo asks of the server ------------------------------------
    @property
    def issuer(self) -> str:
        return self.site.identifier

    def set_issuer(self, base_url: str) -> None:
        self.site.set(base_url)

    def url(self, path: str) -> str:
        return self.site.url(path)

    def now(self) -> float:
        return self.clock()

    def metadata(self) -> dict:
        return metadata(self.site, require_par=self.pushed.require_par)

    def register_web_app(self, app_base_urls) -> None:
        """The public client's callback follows whatever port the app is on."""
        self.clients.register_web_app(app_base_urls)

    @property
    def service_secret(self) -> str:
        """demo-service's secret, for this process only (the CLI's in-process server):
        never printed, never logged, never in a page or a URL."""
        return self.clients[self.service_client_id].secret

    def prune(self) -> None:
        self.store.prune()


def start_embedded(cfg, events: EventBus | None, clock, keys=None) -> tuple:
    """The Auth0 stand-in on its own port; its key is generated in the background."""
    if keys is None:
        keys = SigningKeyStore(cache_dir=paths.user_cache_dir())
        keys.start()
    clients = dataclasses.asdict(cfg.embedded)   # settings.EmbeddedClients: the client ids
    auth = AuthorizationServer(keys, events=events, clock=clock,
                               require_par=cfg.embedded_require_par,
                               device_interval=cfg.embedded_device_interval, **clients)
    server = httpkit.bind(AuthServerHandler, cfg.host, cfg.idp_port, auth,
                          "embedded authorization server", "--idp-port", cfg.public_host)
    auth.set_issuer(httpkit.server_url(server))
    return auth, server
