"""Which client the mobile backend is, where its database lives, and when it is built.

The backend is its own confidential client at the web app's provider (RFC 6749 §2.1,
§2.3.1: it holds a client secret, the mobile app does not). It is built on first use,
not at start-up: the database file is created when the first /auth/ or /api/me request
arrives, and a setting that cannot work (no BACKEND_CLIENT_SECRET, a shared database
directory) is answered as a 503 while the rest of the demo keeps serving.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from oauthdemo.client.oidc import OIDCClient
from oauthdemo.core import paths
from oauthdemo.core.errors import ConfigError
from oauthdemo.core.events import EventBus
from oauthdemo.settings import Provider, Settings

if TYPE_CHECKING:
    from oauthdemo.backend.service import Backend

DB_FILE_NAME = "backend.sqlite3"
MISSING_CLIENT_STATUS = 503   # the backend is unavailable until it is configured


def backend_provider(web: Provider, auth_server, settings: Settings) -> Provider:
    """The backend's own registration at the same provider as the web app."""
    if auth_server is not None:   # the embedded server registers demo-backend with a secret
        registered = auth_server.clients[auth_server.backend_client_id]
        return Provider(web.kind, web.issuer, registered.client_id, registered.secret,
                        web.audience, use_par=web.use_par)
    client_id, secret = settings.backend_client_id, settings.backend_client_secret
    if not (client_id and secret):
        raise ConfigError("The mobile backend is a confidential client: set BACKEND_CLIENT_ID "
                          "and BACKEND_CLIENT_SECRET (see .env.example).",
                          status_code=MISSING_CLIENT_STATUS)
    return Provider(web.kind, web.issuer, client_id, secret, web.audience,
                    use_par=web.use_par)   # OIDC_USE_PAR: the backend pushes for the app too


def database_path(settings: Settings) -> Path:
    if settings.backend_db:
        return Path(settings.backend_db).expanduser()
    return paths.user_cache_dir() / DB_FILE_NAME


@dataclass(frozen=True)
class BackendSetup:
    """What the backend takes from the app it is mounted in."""
    web_provider: Provider              # the web app's, as discovered (its issuer is final)
    settings: Settings                  # BACKEND_CLIENT_ID, BACKEND_CLIENT_SECRET, BACKEND_DB, scope
    auth_server: object = None          # the embedded server, when it is in use
    events: EventBus | None = None
    clock: Callable[[], float] = time.time

    def build(self) -> Backend:
        # Imported here, on the first /auth/ request: the service and SQLite are not needed
        # for the first page, and start-up imports only what that page needs.
        from oauthdemo.backend.service import ACTOR, Backend
        from oauthdemo.backend.store import SessionStore
        provider = backend_provider(self.web_provider, self.auth_server, self.settings)
        client = OIDCClient.discover(provider, events=self.events, clock=self.clock, actor=ACTOR)
        store = SessionStore(database_path(self.settings))
        return Backend(client, store, events=self.events, clock=self.clock,
                       scope=self.settings.scope)


class LazyBackend:
    """The backend, built once, on the first request that needs it. A build that fails
    (a ConfigError) leaves nothing behind: the next request tries again."""

    def __init__(self, build: Callable[[], Backend]):
        self._build = build
        self._backend: Backend | None = None
        self._lock = threading.Lock()

    @classmethod
    def ready(cls, backend: Backend) -> "LazyBackend":
        """One that is already built (tests, or an app that builds it up front)."""
        return cls(lambda: backend)

    def get(self) -> Backend:
        with self._lock:
            if self._backend is None:
                self._backend = self._build()
            return self._backend
