"""A machine's own token (``token --client-credentials``): RFC 6749 §4.4, the client
credentials grant, as a CI job or a service gets one (flytectl's ClientSecret, an Auth0
"Machine to Machine" application).

What it is not: a login. There is no user, so no browser, no consent, no ID token and (§4.4.3)
no refresh token; there is no redirect, so no PKCE (PKCE protects a code on its way back
through a browser, and there is none). The client proves who it is with its secret, and
that is fine here because this client is a server: the secret sits in its own environment
(a CI secret, a vault), which no user can open, unlike a CLI or a mobile app handed to
every user (RFC 8252 §8.4). The secret is never printed: events mask it when they are made.

The access token is checked like every access token the demo accepts: signature by a JWKS
key, then iss, aud and exp by the one claims check (``core.claims`` via ``client.resource``).
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from oauthdemo.client.oidc import OIDCClient
from oauthdemo.core.errors import ConfigError
from oauthdemo.core.events import PLAIN, SECRET, TOKEN, EventBus
from oauthdemo.core.grants import CLIENT_CREDENTIALS as GRANT_TYPE   # RFC 6749 §4.4.2
from oauthdemo.native import cli_login
from oauthdemo.native.tokencache import when
from oauthdemo.server import authserver
from oauthdemo.settings import SERVICE_CLIENT_ID, Provider, Settings

ACTOR = "service"
WHY = ("no user, so no browser, no consent, no ID token and no refresh token (RFC 6749 §4.4.3)",
       "no redirect, so no PKCE: there is no code travelling through a browser to protect",
       "a client secret is fine here: this client is a server (a CI job, a service), and its "
       "secret lives in its own environment, where no user can read it (unlike a CLI's)")


@dataclass(frozen=True)
class MachineToken:
    """The command's result: whose token, for which API, until when (never its value)."""
    claims: dict
    tokens: dict
    now: float

    def lines(self) -> list:
        c = self.claims
        return ["", f"  Access token for the machine {c.get('sub')} (no user)",
                f"    audience       {c.get('aud')}",
                f"    scope          {self.tokens.get('scope') or c.get('scope') or '(none)'}",
                f"    expires        {when(c['exp'], self.now)}",
                "    refresh token  none: the service asks again with its secret", ""]


def get_token(cfg: Settings, events: EventBus, keys=None) -> MachineToken:
    """The grant's one request, then the access token's checks."""
    with service_client(cfg, events, keys) as client:
        for line in WHY:
            events.say(ACTOR, line)
        tokens = request_token(client)
        events.show(ACTOR, "access_token", tokens["access_token"], kind=TOKEN)
        events.say(ACTOR, "2 of 2 · the access token is checked as every access token is: "
                          "signature by a JWKS key, then iss, aud and exp")
        checked = client.validate_access_token(tokens["access_token"])
        events.show(ACTOR, "access token claims", dict(checked["claims"]))
        for name, said in checked["checks"].items():
            events.check(ACTOR, f"{name.replace('_', ' ')}: {said}")
        return MachineToken(checked["claims"], tokens, client.clock())


def request_token(client: OIDCClient) -> dict:
    """§4.4.2: grant_type and the API's audience; the secret authenticates (§2.3.1)."""
    data = {"grant_type": GRANT_TYPE, "client_id": client.provider.client_id,
            "audience": client.provider.audience}
    data, headers = client.with_client_auth(data)
    events, endpoint = client.events, client.metadata["token_endpoint"]
    events.say(ACTOR, f"1 of 2 · the token request, the grant's only one: POST {endpoint}")
    for name, value in data.items():
        events.show(ACTOR, f"  {name}", value, kind=SECRET if name == "client_secret" else PLAIN)
    if headers.get("Authorization"):
        events.show(ACTOR, "  Authorization", headers["Authorization"], "Basic: id and secret",
                    kind=SECRET)
    return client.post_token(data, headers)


# == which server, as which client ================================================================

@contextlib.contextmanager
def service_client(cfg: Settings, events: EventBus, keys=None):
    """The OIDC client acting as the service; an embedded server started here stops after."""
    provider, server = service_provider(cfg, events, keys)
    try:
        client = OIDCClient.discover(provider, events=events, actor=ACTOR, grant=GRANT_TYPE)
        if provider.kind == "embedded" and server is None:
            client.pin_key(cli_login.cached_public_key(cli_login.key_cache_path()))
        yield client
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()


def service_provider(cfg: Settings, events: EventBus, keys=None) -> tuple:
    """(Provider as the confidential service client, server started here or None)."""
    p = cfg.provider
    if p.kind != "embedded":
        if not (p.client_secret and p.audience):
            raise ConfigError("Client credentials need a confidential client's secret and the "
                              f"API it asks for: set the {p.kind.upper()}_CLIENT_SECRET and "
                              f"{p.kind.upper()}_AUDIENCE of a machine-to-machine application.")
        return p, None
    issuer = cli_login.running_embedded(cfg)
    if issuer is not None:
        return running_service(cfg, events, issuer), None
    auth, server = authserver.start_embedded(cfg, events, time.time, keys)
    cli_login.announce(events, f"  Started the embedded authorization server at {auth.issuer} "
                               "for this command; demo-service's secret is its own, in memory.")
    return embedded_service(auth.issuer, auth.service_secret), server


def running_service(cfg: Settings, events: EventBus, issuer: str) -> Provider:
    """The demo already serving: its demo-service secret is only known if both were given
    the same EMBEDDED_SERVICE_CLIENT_SECRET (otherwise it is random, and private to it)."""
    if not cfg.embedded_service_secret:
        raise ConfigError(f"The demo running at {issuer} made a random secret for "
                          f"{SERVICE_CLIENT_ID} that only it knows. Give both the same "
                          "EMBEDDED_SERVICE_CLIENT_SECRET (in .env), or stop the demo and this "
                          "command starts a server of its own.")
    cli_login.announce(events, f"  Using the demo's authorization server already running at "
                               f"{issuer}")
    return embedded_service(issuer, cfg.embedded_service_secret)


def embedded_service(issuer: str, secret: str) -> Provider:
    return Provider("embedded", issuer, SERVICE_CLIENT_ID, secret, authserver.DEFAULT_AUDIENCE)
