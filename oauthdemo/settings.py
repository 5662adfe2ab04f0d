"""Where the demo's settings come from: ``.env``, then the environment, then flags.

With nothing configured the demo starts its own authorization server (the embedded
Auth0 stand-in). ``AUTH0_DOMAIN`` + ``AUTH0_CLIENT_ID`` point it at a real Auth0
tenant; ``OIDC_ISSUER`` + ``OIDC_CLIENT_ID`` at any OpenID Connect provider. Endpoints
are never configured by hand: they come from the provider's discovery document.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from oauthdemo.core.errors import ConfigError

ENV_LINE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*")
PROVIDER_KEYS = {
    "AUTH0": ("AUTH0_DOMAIN", "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET", "AUTH0_AUDIENCE"),
    "OIDC": ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_AUDIENCE",
             "OIDC_INTROSPECTION_CLIENT_ID", "OIDC_INTROSPECTION_CLIENT_SECRET"),
}
EMBEDDED_KEYS = ("EMBEDDED_WEB_CLIENT_ID", "EMBEDDED_CLI_CLIENT_ID",
                 "EMBEDDED_BACKEND_CLIENT_ID", "EMBEDDED_BACKEND_CLIENT_SECRET")
OTHER_KEYS = ("OAUTH_SCOPE", "OAUTH_REDIRECT_HOST", "OAUTH_PUBLIC_HOST", "BACKEND_CLIENT_ID",
              "BACKEND_CLIENT_SECRET", "BACKEND_DB")
DEFAULT_SCOPE = "openid profile email offline_access"
# A name or address the servers answer to besides localhost (httpkit.allowed_hosts): no
# scheme, no port (each server adds its own), no path.
PUBLIC_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?"   # name or IPv4
                         r"|\[[0-9A-Fa-f:.]{2,45}\]")                           # [IPv6]


def parse_env_file(text: str) -> dict:
    """A small .env reader: KEY=VALUE lines, # comments, optional quotes and 'export'."""
    values = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = ENV_LINE.fullmatch(line)
        if not match:
            raise ConfigError(f".env line {number} is not KEY=VALUE: {line.strip()[:40]!r}")
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def load_env_file(path: Path | None) -> dict:
    if path is None or not path.exists():
        return {}
    try:
        return parse_env_file(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path} is not UTF-8 text.") from err


def default_env_file() -> Path | None:
    """.env in the current directory, else beside complete_oauth_demo.py."""
    for candidate in (Path.cwd() / ".env", Path(__file__).resolve().parent.parent / ".env"):
        if candidate.is_file():
            return candidate
    return None


@dataclass
class Provider:
    """Which authorization server the app talks to, and as which client."""
    kind: str                  # "embedded", "auth0" or "oidc"
    issuer: str = ""           # empty for embedded until its port is known
    client_id: str = ""
    client_secret: str | None = None
    audience: str | None = None
    # RFC 7662: the protected API's own credentials for asking whether a token is revoked
    introspection_client_id: str | None = None
    introspection_client_secret: str | None = None

    @property
    def label(self) -> str:
        return {"embedded": "embedded authorization server (Auth0 stand-in)",
                "auth0": "Auth0", "oidc": "OpenID Connect provider"}[self.kind]


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8091
    idp_port: int = 8092
    open_browser: bool = True
    show_tokens: bool = False
    quiet: bool = False
    scope: str = DEFAULT_SCOPE
    public_host: str = ""      # OAUTH_PUBLIC_HOST: served besides the loopback names
    provider: Provider = field(default_factory=lambda: Provider("embedded"))
    embedded: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)   # every key read, for the other commands


def pick_provider(values: dict) -> Provider:
    """Half a configuration is an error, not a silent fall-back to the embedded server."""
    auth0 = [k for k in PROVIDER_KEYS["AUTH0"][:2] if values.get(k)]
    oidc = [k for k in PROVIDER_KEYS["OIDC"][:2] if values.get(k)]
    if auth0 and oidc:
        raise ConfigError("Both AUTH0_* and OIDC_* settings are present; keep one provider.")
    for prefix, present in (("AUTH0", auth0), ("OIDC", oidc)):
        if present and len(present) < 2:
            missing = [k for k in PROVIDER_KEYS[prefix][:2] if k not in present]
            raise ConfigError(f"{present[0]} is set but {missing[0]} is not: set both "
                              f"(see .env.example) or neither (to use the embedded server).")
    if auth0:
        domain = strip_scheme(values["AUTH0_DOMAIN"])
        return Provider("auth0", f"https://{domain}/", values["AUTH0_CLIENT_ID"],
                        values.get("AUTH0_CLIENT_SECRET") or None,
                        values.get("AUTH0_AUDIENCE") or None)
    if oidc:
        return Provider("oidc", values["OIDC_ISSUER"].strip(), values["OIDC_CLIENT_ID"],
                        values.get("OIDC_CLIENT_SECRET") or None,
                        values.get("OIDC_AUDIENCE") or None,
                        values.get("OIDC_INTROSPECTION_CLIENT_ID") or None,
                        values.get("OIDC_INTROSPECTION_CLIENT_SECRET") or None)
    return Provider("embedded", client_id=values.get("EMBEDDED_WEB_CLIENT_ID") or "demo-web-app")


def strip_scheme(domain: str) -> str:
    domain = domain.strip()
    if domain.startswith("https://"):
        domain = domain[len("https://"):]
    return domain.strip("/")


def gather(env_file: Path | None, environ=None) -> dict:
    """.env first, then the environment on top (the environment wins)."""
    environ = os.environ if environ is None else environ
    values = load_env_file(env_file)
    keys = [k for group in PROVIDER_KEYS.values() for k in group] + list(EMBEDDED_KEYS) + list(OTHER_KEYS)
    for key in keys:
        if environ.get(key):
            values[key] = environ[key]
    return values


def build(args, environ=None) -> Settings:
    """Flags last: they override both .env and the environment."""
    env_file = Path(args.env_file) if getattr(args, "env_file", None) else default_env_file()
    if getattr(args, "env_file", None) and not env_file.is_file():
        raise ConfigError(f"--env-file {env_file} does not exist.")
    values = gather(env_file, environ)
    settings = Settings(values=values, provider=pick_provider(values))
    settings.scope = values.get("OAUTH_SCOPE") or DEFAULT_SCOPE
    settings.public_host = public_host(values.get("OAUTH_PUBLIC_HOST", ""))
    settings.embedded = {
        "web_client_id": values.get("EMBEDDED_WEB_CLIENT_ID") or "demo-web-app",
        "native_client_id": values.get("EMBEDDED_CLI_CLIENT_ID") or "demo-cli",
        "backend_client_id": values.get("EMBEDDED_BACKEND_CLIENT_ID") or "demo-backend",
        "backend_secret": values.get("EMBEDDED_BACKEND_CLIENT_SECRET") or None,
    }
    for name in ("host", "port", "idp_port", "show_tokens", "quiet"):
        if getattr(args, name, None) is not None:
            setattr(settings, name, getattr(args, name))
    for kind, key in (("web", "web_client_id"), ("cli", "native_client_id"),
                      ("backend", "backend_client_id")):
        if getattr(args, f"{kind}_client_id", None):
            settings.embedded[key] = getattr(args, f"{kind}_client_id")
    if settings.provider.kind == "embedded":
        settings.provider.client_id = settings.embedded["web_client_id"]
    if getattr(args, "no_browser", False):
        settings.open_browser = False
    check_ports(settings)
    return settings


def public_host(value: str) -> str:
    value = value.strip()
    if value and not PUBLIC_HOST.fullmatch(value):
        raise ConfigError("OAUTH_PUBLIC_HOST must be a host name or address alone, without "
                          "scheme or port: for example demo.example.org or 192.168.1.20.")
    return value.lower()


def check_ports(settings: Settings):
    for name in ("port", "idp_port"):
        value = getattr(settings, name)
        if not 0 <= value <= 65535:
            raise ConfigError(f"--{name.replace('_', '-')} must be between 0 and 65535.")
    if settings.port and settings.port == settings.idp_port and settings.provider.kind == "embedded":
        raise ConfigError("--port and --idp-port must differ: the authorization server needs "
                          "its own origin.")
