"""Abuse: a flood of logins that never complete, and idle or slow connections (slowloris).

The flood runs in a child process (``python3 -m bench.stress flood-worker ...``) so the
server, here, keeps its own interpreter: its memory (VmRSS) and its pending-login table
are read directly while the flood runs, and a normal login is run now and then to show
it still works. Every request is one connection, ``Connection: close``, and the worker
never follows the redirect: each leaves a pending login behind, as an attacker's would.
"""
from __future__ import annotations

import argparse
import gc
import json
import select
import socket
import struct
import subprocess
import sys
import threading
import time

from oauthdemo.client.pending import PENDING_MAX, PENDING_TTL
from oauthdemo.client.useragent import ScriptedBrowser

from .harness import LOOPBACK, ROOT, FlowError, rss_mb, timed_login

FLOOD_THREADS = 8          # client threads in the worker process
FLOOD_MAX_SECONDS = 400    # the flood stops here whatever its count
SAMPLE_EVERY = 0.25        # seconds between memory / pending-table samples
FLOW_EVERY = 5             # seconds between normal logins during the flood
FIRST_FLOW_AFTER = 0.5     # seconds into the flood for the first (the child is running by then)
SOURCE_ADDRESSES = 64      # 127.0.0.2 … : spreads the connections over many 4-tuples
DRIP_EVERY = 0.5           # seconds between the bytes a slow client sends
SLOW_REQUEST = b"GET /login HTTP/1.1\r\nUser-Agent: slow"   # never finished: Host is moot
SLOW_FLOWS = 3             # normal logins timed while the slow connections are open


# -- the flood ------------------------------------------------------------------------------

def flood_worker(port: int, count: int, threads: int, max_seconds: float) -> dict:
    """Runs in the child: ``count`` GET /login requests from ``threads`` threads."""
    request = (f"GET /login HTTP/1.1\r\nHost: localhost:{port}\r\n"
               "Connection: close\r\n\r\n").encode("ascii")
    lock, left, statuses = threading.Lock(), [count], {}
    deadline = time.monotonic() + max_seconds

    def loop(index: int):
        source = usable_source(f"127.0.0.{2 + index % SOURCE_ADDRESSES}")
        while time.monotonic() < deadline:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            try:
                status = one_request(port, source, request)
            except OSError as err:
                status = type(err).__name__
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    started = time.monotonic()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return {"statuses": statuses, "seconds": time.monotonic() - started}


def one_request(port: int, source: str, request: bytes) -> str:
    """One connection, one request, the whole answer read; returns the status code."""
    with socket.socket() as sock:
        # Reset on close: 100,000 connections would otherwise pile up in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.settimeout(10)
        sock.bind((source, 0))
        sock.connect((LOOPBACK, port))
        sock.sendall(request)
        head = sock.recv(4096)
        while sock.recv(65536):
            pass
    return head[9:12].decode("ascii", "replace") or "empty"


def usable_source(address: str) -> str:
    """Linux routes all of 127/8 to loopback; elsewhere only 127.0.0.1 may exist."""
    try:
        with socket.socket() as probe:
            probe.bind((address, 0))
        return address
    except OSError:
        return LOOPBACK


def flood(running, count: int, clock) -> dict:
    """Flood the app's /login from a child process; watch memory, the table, and logins.

    A full table refuses NEW logins (503 + Retry-After) and never evicts: a login begun
    before the flood must still finish after it, and once the flood's entries expire
    (``clock`` moved on by the pending TTL) new logins work again."""
    app = running.app
    timed_login(running)
    inflight = begin_login(running)
    gc.collect()
    base = rss_mb()
    command = [sys.executable, "-m", "bench.stress", "flood-worker",
               "--port", str(running.app_server.server_address[1]), "--count", str(count),
               "--threads", str(FLOOD_THREADS), "--max-seconds", str(FLOOD_MAX_SECONDS)]
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    watch = {"peak_rss": base, "peak_pending": 0, "during": [], "refused": 0, "failed": []}
    started = time.monotonic()
    next_flow = started + FIRST_FLOW_AFTER
    while child.poll() is None and time.monotonic() - started < FLOOD_MAX_SECONDS + 30:
        watch["peak_rss"] = max(watch["peak_rss"], rss_mb())
        watch["peak_pending"] = max(watch["peak_pending"], len(app.pending))
        if time.monotonic() >= next_flow:
            login_or_refused(running, watch)
            next_flow = time.monotonic() + FLOW_EVERY
        time.sleep(SAMPLE_EVERY)
    report = json.loads(child.communicate(timeout=60)[0])
    pending_end = len(app.pending)     # read before the next login takes one out
    finished = finish_login(running, inflight, watch["failed"])
    clock.offset += PENDING_TTL + 1    # the flood's logins expire
    after = []
    login_now(running, after, watch["failed"])
    return flood_result(count, report, watch, base, pending_end, finished, after)


def begin_login(running) -> tuple:
    """A user's login, left at the authorization server's door: (browser, authorize URL)."""
    browser = ScriptedBrowser()
    start = browser.get(running.app_url + "/login")
    if start.status != 302:
        raise FlowError(f"GET /login before the flood: HTTP {start.status}")
    return browser, start.location


def finish_login(running, inflight: tuple, failures: list) -> bool:
    browser, authorize_url = inflight
    try:
        done = browser.get(browser.login_at_provider(authorize_url))
    except (OSError, RuntimeError) as err:
        failures.append(f"in-flight login: {type(err).__name__}: {err}"[:200])
        return False
    if done.status != 303:
        failures.append(f"in-flight login: callback HTTP {done.status}")
    return done.status == 303


def login_or_refused(running, watch: dict):
    """A new login during the flood: it completes, or /login refuses it cleanly (503 with
    Retry-After) because the table is full. Anything else is a failure."""
    probe = ScriptedBrowser().get(running.app_url + "/login")
    if probe.status == 503 and probe.headers.get("Retry-After"):
        watch["refused"] += 1
        return
    login_now(running, watch["during"], watch["failed"])


def login_now(running, times: list, failures: list):
    try:
        times.append(timed_login(running))
    except (FlowError, OSError, RuntimeError) as err:
        failures.append(f"{type(err).__name__}: {err}"[:200])


def flood_result(count, report, watch, base, pending_end, finished, after) -> dict:
    sent = sum(report["statuses"].values())
    return {"requests": sent, "asked": count, "statuses": report["statuses"],
            "rate_per_s": round(sent / report["seconds"], 1),
            "seconds": round(report["seconds"], 1),
            "rss_base_mb": round(base, 1), "rss_peak_mb": round(watch["peak_rss"], 1),
            "rss_end_mb": round(rss_mb(), 1),
            "rss_growth_mb": round(watch["peak_rss"] - base, 1),
            "pending_cap": PENDING_MAX, "pending_peak": watch["peak_pending"],
            "pending_end": pending_end, "inflight_completed": finished,
            "logins_during": len(watch["during"]), "logins_during_refused": watch["refused"],
            "login_during_max_ms": round(max(watch["during"]) * 1000, 1) if watch["during"]
            else None,
            "login_after_ms": round(after[0] * 1000, 1) if after else None,
            "failures": watch["failed"][:3]}


# -- slowloris ------------------------------------------------------------------------------

def open_connections(port: int, count: int) -> list:
    socks = []
    for _ in range(count):
        sock = socket.create_connection((LOOPBACK, port), timeout=5)
        sock.setblocking(False)
        socks.append(sock)
    return socks


def drip(slow: list, stop: threading.Event):
    """One byte of a request line per connection every DRIP_EVERY seconds, never finished."""
    sent = 0
    while not stop.wait(DRIP_EVERY) and sent < len(SLOW_REQUEST):
        for sock in slow:
            try:
                sock.send(SLOW_REQUEST[sent:sent + 1])
            except OSError:
                pass
        sent += 1


def closed_by_server(socks: list, opened: float, deadline: float) -> list:
    """Seconds after ``opened`` at which the server closed each socket (None: still open)."""
    closed = {}
    while len(closed) < len(socks) and time.monotonic() < deadline:
        waiting = [s for s in socks if s not in closed]
        readable, _, _ = select.select(waiting, [], [], 0.5)
        for sock in readable:
            try:
                data = sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                closed[sock] = time.monotonic() - opened
    return [closed.get(s) for s in socks]


def shorten_limits(running, timeout: float, deadline: float):
    """Both servers' connection timeout and request deadline, shortened (``--quick``): each
    server makes its handlers from ``RequestHandlerClass``, so a subclass there carries them."""
    for server in (running.app_server, running.auth_server):
        base = server.RequestHandlerClass
        server.RequestHandlerClass = type(base.__name__, (base,),
                                          {"timeout": timeout, "request_deadline": deadline})


def slowloris(running, count: int, limits: tuple | None = None) -> dict:
    """``count`` idle and slow connections to each server; then normal logins are timed.
    ``limits`` = (connection timeout, request deadline) in seconds, to shorten the wait."""
    if limits:
        shorten_limits(running, *limits)
    handler = running.app_server.RequestHandlerClass
    timeout, deadline = handler.timeout, handler.request_deadline
    ports = [running.app_server.server_address[1], running.auth_server.server_address[1]]
    threads_before = threading.active_count()
    opened = time.monotonic()
    idle, slow = [], []
    for port in ports:
        idle += open_connections(port, count // 2)
        slow += open_connections(port, count - count // 2)
    stop = threading.Event()
    dripper = threading.Thread(target=drip, args=(slow, stop), daemon=True)
    dripper.start()
    try:
        held = wait_for_threads(threads_before + len(idle) + len(slow))
        times, failed = [], []
        for _ in range(SLOW_FLOWS):
            login_now(running, times, failed)
        idle_closed = closed_by_server(idle, opened, opened + timeout + 5)
        slow_closed = closed_by_server(slow, opened, opened + deadline + 5)
    finally:
        stop.set()
        for sock in idle + slow:
            sock.close()
    shut = [s for s in idle_closed if s is not None]
    dripped = [s for s in slow_closed if s is not None]
    return {"connections": len(idle) + len(slow), "per_server": count,
            "timeout_s": timeout, "deadline_s": deadline,
            "server_threads_held": held, "logins": len(times), "logins_failed": len(failed),
            "login_max_ms": round(max(times) * 1000, 1) if times else None,
            "idle_closed": len(shut), "idle_closed_after_s": round(min(shut), 1) if shut else None,
            "slow_closed": len(dripped),
            "slow_closed_after_s": round(min(dripped), 1) if dripped else None,
            "failures": failed[:3]}


def wait_for_threads(target: int, limit: float = 10) -> int:
    """Until the server has a thread for every connection (it accepts them one by one)."""
    deadline = time.monotonic() + limit
    while threading.active_count() < target and time.monotonic() < deadline:
        time.sleep(0.05)
    return threading.active_count()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench.stress")
    parser.add_argument("role", choices=["flood-worker"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--threads", type=int, default=FLOOD_THREADS)
    parser.add_argument("--max-seconds", type=float, default=FLOOD_MAX_SECONDS)
    args = parser.parse_args(argv)
    print(json.dumps(flood_worker(args.port, args.count, args.threads, args.max_seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
