"""Serving: a thread per connection, a cap on connections, loopback binding, our own names.

Every server of the demo (the app, the embedded authorization server, the CLI's one-shot
callback server) is a ``DemoHTTPServer`` started by ``start_server`` or ``bind``:

* a thread per connection, but at most MAX_CONNECTIONS open at once (each is a thread and
  a file descriptor): the next one gets a 503 at once, and running out of descriptors
  pauses the accept loop instead of spinning it;
* 127.0.0.1 by default; a port already in use is a sentence naming the flag that moves it;
* a server answers only to its own names on its own port (``allowed_hosts``, RFC 9110
  §7.2): DNS rebinding. The request handler (``web.httpkit``) enforces it.
"""
from __future__ import annotations

import errno
import socket
import sys
import threading
import time
from http.server import ThreadingHTTPServer

from oauthdemo.core.errors import ConfigError, TemporarilyUnavailable
from oauthdemo.core.loopback import LOOPBACK_HOSTS

STARTUP_WAIT = 10             # seconds an early request waits for the server's state
# Connections: a thread and a file descriptor each, so both are bounded.
MAX_CONNECTIONS = 256         # per server, open at once; the next one gets a 503 at once
BUSY_RETRY_AFTER = 1          # seconds, in that 503's Retry-After
ACCEPT_BACKOFF = 0.1          # seconds the accept loop pauses when descriptors run out
OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
POLL_INTERVAL = 0.05          # seconds: shutdown() returns quickly (tests start many servers)


class DemoHTTPServer(ThreadingHTTPServer):
    """A thread per connection, bounded by the per-connection timeout; 127.0.0.1 by default.

    At most ``max_connections`` connections are open at once (each is a thread and a file
    descriptor); ``public_host`` is a name it answers to besides its loopback names
    (``allowed_hosts``); ``sleep`` is how the accept loop pauses (tests record it).
    """

    daemon_threads = True
    request_queue_size = 128
    accept_backoff = ACCEPT_BACKOFF

    def __init__(self, *args, public_host: str = "", max_connections: int = MAX_CONNECTIONS,
                 sleep=time.sleep, **kwargs):
        self._app = None
        self.ready = threading.Event()
        self.public_host = public_host.lower()
        self.connection_slots = threading.BoundedSemaphore(max_connections)
        self.sleep = sleep
        super().__init__(*args, **kwargs)

    @property
    def app(self):
        """The object holding this server's state (the app, the authorization server)."""
        return self._app

    @app.setter
    def app(self, value):
        self._app = value
        if value is not None:
            self.ready.set()

    def finish_request(self, request, client_address):
        # The app's port is bound before its state exists (its URL is part of that state):
        # a browser that connects in that instant waits for it, not for a 500.
        if self.ready.wait(STARTUP_WAIT):
            super().finish_request(request, client_address)

    def get_request(self):
        try:
            return super().get_request()
        except OSError as err:
            if err.errno in OUT_OF_DESCRIPTORS:
                # The connection stays queued, so the listening socket stays readable: without
                # a pause the loop would retry accept() at 100 % CPU until a descriptor frees.
                self.sleep(self.accept_backoff)
            raise

    def process_request(self, request, client_address):
        """A thread for this connection if a slot is free; otherwise a 503 at once, so a
        flood of idle connections cannot take every thread and file descriptor."""
        if not self.connection_slots.acquire(blocking=False):
            self.refuse_busy(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:   # no thread started: nothing else will give the slot back
            self.connection_slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connection_slots.release()

    def refuse_busy(self, request):
        body = TemporarilyUnavailable("Too many connections at once; retry shortly.").to_json()
        head = (f"HTTP/1.0 503 Service Unavailable\r\nRetry-After: {BUSY_RETRY_AFTER}\r\n"
                "Content-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
                f"Cache-Control: no-store\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n").encode("ascii")
        try:
            request.setblocking(False)   # a client that does not read must not stall accept
            request.send(head + body)
        except OSError:
            pass
        self.shutdown_request(request)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout, TimeoutError)):
            return  # a client went away or was too slow: not our bug, nothing to print
        super().handle_error(request, client_address)


def start_server(handler_cls, host: str, port: int, app, public_host: str = "") -> tuple:
    """Bind, attach the state object, serve in a daemon thread. Returns (server, thread)."""
    server = DemoHTTPServer((host, port), handler_cls, public_host=public_host)
    server.app = app
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": POLL_INTERVAL},
                              name=f"{handler_cls.__name__}", daemon=True)
    thread.start()
    return server, thread


def bind(handler_cls, host: str, port: int, app, what: str, flag: str, public_host: str = ""):
    """start_server, with a sentence instead of an OSError: which port, and which flag moves it."""
    try:
        return start_server(handler_cls, host, port, app, public_host)[0]
    except OSError as err:
        if err.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
            raise ConfigError(f"Port {port} ({what}) is already in use — is another copy of the "
                              f"demo running? Stop it, or choose another port with "
                              f"{flag} {port + 10}.") from err
        raise ConfigError(f"Cannot listen on {host}:{port} ({what}): {err.strerror}.") from err


def server_url(server, host: str | None = None) -> str:
    """http://HOST:PORT of a bound server; 'localhost' for the loopback address."""
    bound_host, port = server.server_address[:2]
    host = host or ("localhost" if bound_host in ("127.0.0.1", "::1") else bound_host)
    return f"http://{host}:{port}"


def allowed_hosts(server) -> frozenset:
    """The Host values a server answers to (DNS rebinding): its loopback names, the address
    it is bound to (server_url may advertise it; an address cannot be rebound) and the
    configured public host, each with the server's own port; bare only on port 80, the
    port a Host may leave out (RFC 9110 §7.2)."""
    bound_host, port = server.server_address[:2]
    names = {*LOOPBACK_HOSTS, bound_host, server.public_host} - {""}
    hosts = {f"{name}:{port}" for name in names}
    return frozenset(hosts | names if port == 80 else hosts)


def allowed_origins(server) -> frozenset:
    """The Origin values of our own pages (RFC 6454 §6.1): http:// and an allowed host."""
    return frozenset(f"http://{host}" for host in allowed_hosts(server))
