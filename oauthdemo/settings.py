"""Where the demo's settings come from: defaults, then ``.env``, then the environment, then flags.

With nothing configured the demo starts its own authorization server (the embedded
Auth0 stand-in). ``AUTH0_DOMAIN`` + ``AUTH0_CLIENT_ID`` point it at a real Auth0
tenant; ``OIDC_ISSUER`` + ``OIDC_CLIENT_ID`` at any OpenID Connect provider. Endpoints
are never configured by hand: they come from the provider's discovery document.

``Settings`` is the one defaults table: each line names a setting, its type, its
default, its ``.env``/environment name and its command-line flag. The command line
(``oauthdemo.cli``) declares its flags from it, and ``build`` reads the sources through
it. A built ``Settings`` is frozen: start-up derives new values (``dataclasses.replace``)
and never changes the caller's.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Callable

from oauthdemo.core.records import Record
from oauthdemo.core.errors import ConfigError

ENV_LINE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*")
DEFAULT_SCOPE = "openid profile email offline_access"
# The client_ids the embedded server registers unless told otherwise.
WEB_CLIENT_ID = "demo-web-app"     # the walkthrough app (public, PKCE)
CLI_CLIENT_ID = "demo-cli"         # the CLI login (native, loopback redirect)
BACKEND_CLIENT_ID = "demo-backend"  # the mobile app's backend (confidential)
SERVICE_CLIENT_ID = "demo-service"  # a machine acting as itself (client credentials)
DEVICE_INTERVALS = range(1, 61)    # RFC 8628 §3.2 interval: seconds between a device's polls
# RFC 8252 §8.3: a native app's redirect names the loopback IP literal; localhost on request.
REDIRECT_HOSTS = ("127.0.0.1", "localhost")
CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")   # the embedded server's client_ids
# The embedded server's configured client secrets: RFC 3986 unreserved characters only, as
# the generated ones are. RFC 6749 §2.3.1 form-encodes the id and secret before HTTP Basic;
# common clients (requests' HTTPBasicAuth) do not, so '+', '%' or ':' would break the login.
CLIENT_SECRET = re.compile(r"[A-Za-z0-9._~-]+")
PORT_RANGE = range(0, 65536)       # 0: any free port
SWITCH_WORDS = {"1": True, "true": True, "yes": True, "on": True,
                "0": False, "false": False, "no": False, "off": False}
# A name or address the servers answer to besides localhost (httpkit.allowed_hosts): no
# scheme, no port (each server adds its own), no path.
PUBLIC_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?"   # name or IPv4
                         r"|\[[0-9A-Fa-f:.]{2,45}\]")                           # [IPv6]
# The provider's settings: (issuer or domain, client_id, client_secret, audience, …).
# RFC 6749 §2.3.1: the ways a client with a secret may authenticate at the token endpoint.
TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
PROVIDER_KEYS = {
    "AUTH0": ("AUTH0_DOMAIN", "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET", "AUTH0_AUDIENCE"),
    "OIDC": ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_AUDIENCE",
             "OIDC_INTROSPECTION_CLIENT_ID", "OIDC_INTROSPECTION_CLIENT_SECRET"),
}


# == the checks a setting's value must pass (each raises ValueError: "must …") ===============

def check_port(value: int) -> int:
    if value not in PORT_RANGE:
        raise ValueError("must be between 0 and 65535")
    return value


def check_redirect_host(value: str) -> str:
    if value not in REDIRECT_HOSTS:
        raise ValueError(f"must be 127.0.0.1 or localhost, not {value!r}")
    return value


def check_device_interval(value: int) -> int:
    if value not in DEVICE_INTERVALS:
        raise ValueError("must be between 1 and 60 seconds")
    return value


def check_client_id(value: str) -> str:
    """RFC 6749 §2.2: a client_id is a non-empty string; ours are visible ASCII, no spaces.
    An empty one would match a request that names no client at all."""
    if not CLIENT_ID.fullmatch(value):
        raise ValueError("must be 1 to 64 visible ASCII characters (letters, digits, '.', '_', "
                         f"'-', ':'), not {value!r}")
    return value


def check_client_secret(value: str) -> str:
    """Empty means "generate one"; else unreserved characters only (CLIENT_SECRET says why).
    The message never repeats the value: it is a secret."""
    if value and not CLIENT_SECRET.fullmatch(value):
        raise ValueError("must use only letters, digits and '.', '_', '~', '-' (RFC 3986 "
                         "unreserved): clients that do not form-encode HTTP Basic "
                         "credentials (RFC 6749 §2.3.1) break on '+', '%' or ':'")
    return value


def check_switch(value) -> bool:
    """A yes/no setting: a flag gives a bool; .env and the environment give text."""
    if isinstance(value, bool):
        return value
    text = value.strip().lower()
    if text not in SWITCH_WORDS:
        raise ValueError(f"must be true or false, not {value!r}")
    return SWITCH_WORDS[text]


def check_public_host(value: str) -> str:
    value = value.strip()
    if value and not PUBLIC_HOST.fullmatch(value):
        raise ValueError("must be a host name or address alone, without scheme or port: for "
                         "example demo.example.org or 192.168.1.20")
    return value.lower()


# == the one defaults table ====================================================================

def setting(default, *, env: str = "", flag: str = "", help: str = "",
            check: Callable | None = None, secret: bool = False):
    """One row of the table: the default (its type is the setting's type), the name in
    ``.env`` and the environment, the command-line flag, what it is for, and its check.
    A secret is left out of the repr, so printing the settings cannot show it."""
    return field(default=default, repr=not secret,
                 metadata={"env": env, "flag": flag, "help": help, "check": check})


@dataclass
class Provider(Record):   # immutable: see core.records
    """Which authorization server the app talks to, and as which client."""
    kind: str                  # "embedded", "auth0" or "oidc"
    issuer: str = ""           # empty for embedded until its port is known
    client_id: str = ""
    client_secret: str | None = field(default=None, repr=False)
    audience: str | None = None
    # RFC 7662: the protected API's own credentials for asking whether a token is revoked
    introspection_client_id: str | None = None
    introspection_client_secret: str | None = field(default=None, repr=False)
    # RFC 9126: push every authorization request, even where the provider does not require it
    use_par: bool = False
    # RFC 6749 §2.3.1: how a client with a secret authenticates; None: Basic where offered
    token_auth_method: str | None = None

    @property
    def label(self) -> str:
        return {"embedded": "embedded authorization server (Auth0 stand-in)",
                "auth0": "Auth0", "oidc": "OpenID Connect provider"}[self.kind]


@dataclass
class EmbeddedClients(Record):   # immutable: see core.records
    """The clients the embedded server registers (AuthorizationServer's keyword arguments)."""
    web_client_id: str
    native_client_id: str
    backend_client_id: str
    backend_secret: str | None = field(repr=False)
    service_secret: str | None = field(default=None, repr=False)


@dataclass
class Settings(Record):   # immutable: see core.records
    """Everything the demo runs with. One line per setting: its type, default and sources."""
    # -- where the servers listen, and the console
    host: str = setting("127.0.0.1", flag="--host",
                        help="interface to bind; 127.0.0.1 is only this machine")
    port: int = setting(8091, flag="--port", check=check_port, help="the app's port")
    idp_port: int = setting(8092, flag="--idp-port", check=check_port,
                            help="the embedded authorization server's port")
    open_browser: bool = setting(True, flag="--no-browser",
                                 help="do not open a browser (the URL is always printed)")
    show_tokens: bool = setting(False, flag="--show-tokens",
                                help="print whole tokens instead of abbreviations")
    quiet: bool = setting(False, flag="--quiet",
                          help="print only the start-up lines, the result and errors")
    # -- the login request
    scope: str = setting(DEFAULT_SCOPE, env="OAUTH_SCOPE", help="the scopes every login asks for")
    redirect_host: str = setting("127.0.0.1", env="OAUTH_REDIRECT_HOST", check=check_redirect_host,
                                 help="the host in a native app's loopback redirect_uri")
    public_host: str = setting("", env="OAUTH_PUBLIC_HOST", check=check_public_host,
                               help="a name the servers answer to besides localhost")
    use_par: bool = setting(False, env="OIDC_USE_PAR", flag="--par", check=check_switch,
                            help="push the authorization request first (RFC 9126 PAR); "
                                 "always done when the provider requires it")
    # -- the embedded server's clients (the backend's secret never on the command line)
    embedded_web_client_id: str = setting(WEB_CLIENT_ID, env="EMBEDDED_WEB_CLIENT_ID",
                                          flag="--web-client-id", check=check_client_id, help="the web app's client_id")
    embedded_cli_client_id: str = setting(CLI_CLIENT_ID, env="EMBEDDED_CLI_CLIENT_ID",
                                          flag="--cli-client-id", check=check_client_id, help="the CLI's client_id")
    embedded_backend_client_id: str = setting(BACKEND_CLIENT_ID, env="EMBEDDED_BACKEND_CLIENT_ID",
                                              flag="--backend-client-id", check=check_client_id,
                                              help="the mobile backend's client_id")
    embedded_backend_secret: str = setting("", env="EMBEDDED_BACKEND_CLIENT_SECRET", secret=True,
                                           check=check_client_secret,
                                           help="the mobile backend's secret (default: random)")
    embedded_service_secret: str = setting("", env="EMBEDDED_SERVICE_CLIENT_SECRET", secret=True,
                                           check=check_client_secret,
                                           help="demo-service's secret, for client credentials "
                                                "(default: random per run, never printed)")
    embedded_device_interval: int = setting(5, env="EMBEDDED_DEVICE_INTERVAL",
                                            check=check_device_interval,
                                            help="seconds between a device's polls (RFC 8628)")
    embedded_require_par: bool = setting(False, env="EMBEDDED_REQUIRE_PAR", check=check_switch,
                                         help="the embedded server accepts only pushed "
                                              "authorization requests (RFC 9126 §5)")
    # -- the mobile app's backend at a configured provider (a confidential client)
    backend_client_id: str = setting("", env="BACKEND_CLIENT_ID",
                                     help="the backend's client_id at the provider")
    backend_client_secret: str = setting("", env="BACKEND_CLIENT_SECRET", secret=True,
                                         help="the backend's client secret at the provider")
    backend_db: str = setting("", env="BACKEND_DB", help="the backend's SQLite file")
    # -- the authorization server: from the AUTH0_* or OIDC_* settings (pick_provider)
    provider: Provider = field(default_factory=lambda: Provider("embedded", client_id=WEB_CLIENT_ID))

    @property
    def embedded(self) -> EmbeddedClients:
        return EmbeddedClients(self.embedded_web_client_id, self.embedded_cli_client_id,
                               self.embedded_backend_client_id,
                               self.embedded_backend_secret or None,
                               self.embedded_service_secret or None)


@dataclass
class Row(Record):   # immutable: see core.records
    """One line of the table, as the command line and ``build`` read it."""
    name: str
    type: type
    default: object
    env: str
    flag: str
    help: str
    check: Callable | None    # value -> the value to keep; ValueError("must …") refuses it

    @property
    def flag_help(self) -> str:
        """The flag's --help text: what it is for, its default, and its environment name."""
        if self.type is bool:   # a switch: its environment name takes true or false
            return self.help + (f" (also {self.env}=true)" if self.env else "")
        default = f"default {self.default}" + (f"; also {self.env}" if self.env else "")
        return f"{self.help} ({default})"


TABLE = tuple(Row(f.name, type(f.default), f.default, **f.metadata)
              for f in fields(Settings) if f.metadata)
ENV_NAMES = (tuple(row.env for row in TABLE if row.env)
             + tuple(key for keys in PROVIDER_KEYS.values() for key in keys)
             + tuple(f"{prefix}_TOKEN_AUTH_METHOD" for prefix in PROVIDER_KEYS))


def lookup(name: str) -> Row:
    return next(row for row in TABLE if row.name == name)


# == reading the sources =========================================================================

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


def env_file_of(flags) -> Path | None:
    given = getattr(flags, "env_file", None)
    if not given:
        return default_env_file()
    if not Path(given).is_file():
        raise ConfigError(f"--env-file {given} does not exist.")
    return Path(given)


def gather(env_file: Path | None, environ=None) -> dict:
    """.env first, then the environment on top (the environment wins); empty means unset."""
    environ = os.environ if environ is None else environ
    values = load_env_file(env_file)
    for key in ENV_NAMES:
        if environ.get(key):
            values[key] = environ[key]
    return {key: value for key, value in values.items() if value}


def pick_provider(values: dict, embedded_client_id: str) -> Provider:
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
                        *(values.get(k) for k in PROVIDER_KEYS["AUTH0"][2:]),
                        token_auth_method=token_auth_method(values, "AUTH0"))
    if oidc:
        return Provider("oidc", values["OIDC_ISSUER"].strip(), values["OIDC_CLIENT_ID"],
                        *(values.get(k) for k in PROVIDER_KEYS["OIDC"][2:]),
                        token_auth_method=token_auth_method(values, "OIDC"))
    return Provider("embedded", client_id=embedded_client_id)


def token_auth_method(values: dict, prefix: str) -> str | None:
    """AUTH0_/OIDC_TOKEN_AUTH_METHOD: the method the client is registered for, if said."""
    method = values.get(f"{prefix}_TOKEN_AUTH_METHOD")
    if method is not None and method not in TOKEN_AUTH_METHODS:
        raise ConfigError(f"{prefix}_TOKEN_AUTH_METHOD must be one of "
                          f"{', '.join(TOKEN_AUTH_METHODS)}, not {method!r}.")
    return method


def strip_scheme(domain: str) -> str:
    domain = domain.strip()
    if domain.startswith("https://"):
        domain = domain[len("https://"):]
    return domain.strip("/")


def read(row: Row, flags, values: dict) -> tuple:
    """(source, value) of one setting: its flag if given, else its .env/environment value,
    else (None, None). The value has the setting's type and has passed its check."""
    given = getattr(flags, row.name, None) if row.flag else None
    source, value = (row.flag, given) if given is not None else (row.env, values.get(row.env))
    if value is None:
        return None, None
    try:
        return source, convert(row, value)
    except ValueError as err:   # the message names where the value came from
        raise ConfigError(f"{source} {err}.") from err


def convert(row: Row, value):
    """Text from .env or the environment as the setting's type; then the setting's check."""
    if isinstance(value, str) and row.type is int:
        if not value.strip().isdigit():
            raise ValueError("must be a whole number")
        value = int(value)
    return row.check(value) if row.check else value


def build(flags, environ=None) -> Settings:
    """The defaults, then .env, then the environment, then flags (each wins over the last).

    ``flags`` is the parsed command line (an attribute per setting, None when not given).
    Neither it nor ``environ`` is changed."""
    values = gather(env_file_of(flags), environ)
    chosen = {}
    for row in TABLE:
        source, value = read(row, flags, values)
        if source is not None:
            chosen[row.name] = value
    web_client_id = chosen.get("embedded_web_client_id", WEB_CLIENT_ID)
    provider = pick_provider(values, web_client_id)
    if chosen.get("use_par"):   # the client's choice, whichever provider it talks to
        provider = replace(provider, use_par=True)
    cfg = Settings(provider=provider, **chosen)
    check_distinct_ports(cfg)
    return cfg


def check_distinct_ports(cfg: Settings):
    if cfg.port and cfg.port == cfg.idp_port and cfg.provider.kind == "embedded":
        raise ConfigError("--port and --idp-port must differ: the authorization server needs "
                          "its own origin.")
