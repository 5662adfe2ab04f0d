"""The backend's HTTP face: six JSON routes, each one parse and one call (RFC 6750 §2.1:
the session token comes as ``Authorization: Bearer``).

An explicit object the app holds and dispatches to: the app's handler sends every path
of ``BackendRoutes.ROUTES`` to ``handle``; errors are RFC 6749 §5.2 JSON because the app
lists /auth/ and /api/ among its JSON paths. The backend itself is built on the first
request (``wiring.LazyBackend``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from oauthdemo.backend.par import push_for_app
from oauthdemo.backend.wiring import BackendSetup, LazyBackend
from oauthdemo.core.errors import NotFound
from oauthdemo.settings import Settings
from oauthdemo.web.httpkit import Request, Response, json_response

if TYPE_CHECKING:
    from oauthdemo.backend.service import Backend


class BackendRoutes:
    """(method, path) → one method each; the handler has already checked host and framing."""

    ROUTES = {
        ("GET", "/auth/config"): "config",
        ("POST", "/auth/par"): "par",
        ("POST", "/auth/exchange"): "exchange",
        ("POST", "/auth/refresh"): "refresh",
        ("POST", "/auth/logout"): "logout",
        ("GET", "/api/me"): "me",
    }

    def __init__(self, backend: LazyBackend):
        self.backend = backend

    def service(self) -> Backend:
        """The backend behind the routes, built now if this is the first request."""
        return self.backend.get()

    def handle(self, req: Request) -> Response:
        name = self.ROUTES.get(("GET" if req.method == "HEAD" else req.method, req.path))
        if name is None:
            raise NotFound(f"Nothing at {req.path}.")
        return getattr(self, name)(req)

    def config(self, req: Request) -> Response:
        return json_response(self.service().public_config())

    def par(self, req: Request) -> Response:
        """RFC 9126 for the app: the backend pushes its request (see ``backend.par``)."""
        return json_response(push_for_app(self.service(), req.form_or_json()))

    def exchange(self, req: Request) -> Response:
        return json_response(self.service().exchange(req.form_or_json()))

    def refresh(self, req: Request) -> Response:
        return json_response(self.service().refresh(req.bearer_token()))

    def logout(self, req: Request) -> Response:
        return json_response(self.service().logout(req.bearer_token()))

    def me(self, req: Request) -> Response:
        return json_response(self.service().me(req.bearer_token()))


def mount(app) -> BackendRoutes:
    """The backend as the walkthrough app mounts it: the app's provider, embedded server,
    settings (the defaults if it has none), events and clock; built on the first request."""
    setup = BackendSetup(app.client.provider, app.settings or Settings(), app.auth_server,
                         events=app.events, clock=app.clock)
    return BackendRoutes(LazyBackend(setup.build))
