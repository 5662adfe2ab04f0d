"""Who the embedded server is, and what it tells clients about itself.

RFC 8414 §2 / OpenID Connect Discovery 1.0 §3 (the metadata document at
/.well-known/openid-configuration) and §2 of both (the issuer identifier). The issuer is
``http://localhost:<port>/`` with a trailing slash, exactly as Auth0 writes its own, and
is known only once the port is bound: every part of the server shares one ``Issuer``.
"""
from __future__ import annotations

from oauthdemo.server.authorize import SUPPORTED_SCOPES
from oauthdemo.server.token import TOKEN_ALGORITHMS


class Issuer:
    """The issuer identifier, set once the server's port is known."""

    def __init__(self, identifier: str = ""):
        self.identifier = identifier

    def set(self, base_url: str) -> None:
        self.identifier = base_url.rstrip("/") + "/"   # trailing slash, exactly as Auth0

    def url(self, path: str) -> str:
        return self.identifier.rstrip("/") + path


def metadata(issuer: Issuer, *, require_par: bool = False) -> dict:
    """OpenID Connect Discovery 1.0 §3 / RFC 8414 §2: what a client needs to know;
    RFC 9126 §5: where to push a request, and whether pushing is required."""
    return {
        "issuer": issuer.identifier,
        "authorization_endpoint": issuer.url("/authorize"),
        "token_endpoint": issuer.url("/oauth/token"),
        "userinfo_endpoint": issuer.url("/userinfo"),
        "jwks_uri": issuer.url("/.well-known/jwks.json"),
        "revocation_endpoint": issuer.url("/oauth/revoke"),
        "introspection_endpoint": issuer.url("/oauth/introspect"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic",
                                                          "client_secret_post"],
        "end_session_endpoint": issuer.url("/oidc/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token",
                                  "urn:ietf:params:oauth:grant-type:device_code",
                                  "client_credentials"],
        # RFC 8628 §4: where a device asks for its codes (Auth0's path)
        "device_authorization_endpoint": issuer.url("/oauth/device/code"),
        "code_challenge_methods_supported": ["S256"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(TOKEN_ALGORITHMS),
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post",
                                                  "client_secret_basic"],
        "scopes_supported": list(SUPPORTED_SCOPES),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce",
                             "name", "email", "email_verified"],
        "authorization_response_iss_parameter_supported": True,
        "pushed_authorization_request_endpoint": issuer.url("/oauth/par"),
        "require_pushed_authorization_requests": require_par,
    }
