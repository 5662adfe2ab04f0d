"""What every benchmark shares: the demo started in this process, one scripted login,
timing wrappers, percentiles, the process's memory, raw loopback requests.

The in-process demo is the real program (``runner.start_demo``: the app and the embedded
authorization server on their own ports, real sockets, real discovery, RS256 tokens); the
narration is formatted as usual and written to the null device, so its cost is counted.
"""
from __future__ import annotations

import json
import math
import os
import socket
import statistics
import threading
import time
from pathlib import Path

import complete_oauth_demo
from oauthdemo.server import authserver
from oauthdemo import runner
from oauthdemo import settings
from oauthdemo.server.keys import SigningKeyStore
from oauthdemo.teaching.narrator import Narrator
from oauthdemo.client.useragent import LoginFailed, ScriptedBrowser

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
RAW_TIMEOUT = 5            # seconds for one raw request
USERS = list(authserver.DEMO_USERS)


class FlowError(AssertionError):
    """A login that did not go as a browser's would."""


class ShiftedClock:
    """Wall-clock time plus an offset a benchmark may move forward (to let entries expire)."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def start_demo(key, clock=time.time):
    """The whole demo on free loopback ports, narrating to the null device."""
    cfg = settings.Settings(port=0, idp_port=0, open_browser=False)
    keys = SigningKeyStore(key=key)
    narrator = Narrator(stream=open(os.devnull, "w", encoding="utf-8"), colour=False)
    return runner.start_demo(cfg, app_cls=complete_oauth_demo.DemoApp,
                             handler_cls=complete_oauth_demo.DemoHandler,
                             narrator=narrator, clock=clock, keys=keys)


def expect(resp, status: int, what: str):
    if resp.status != status:
        raise FlowError(f"{what}: HTTP {resp.status}, expected {status}: {resp.text[:160]!r}")
    return resp


def login_flow(running, user: str = "alice", browser: ScriptedBrowser | None = None) -> dict:
    """A whole login as a browser does it, the landing page, then the protected API.

    Returns the API's JSON; raises FlowError at the first unexpected answer.
    """
    browser = browser or ScriptedBrowser()
    try:
        browser.login(running.app_url, user)
    except LoginFailed as err:
        raise FlowError(str(err)) from err
    expect(browser.get(running.app_url + "/"), 200, "GET / (profile)")
    api = expect(browser.get(running.app_url + "/api/protected"), 200, "GET /api/protected")
    return json.loads(api.text)


def timed_login(running, user: str = "alice") -> float:
    """Seconds for one whole login; FlowError if it fails or logs in someone else."""
    started = time.perf_counter()
    body = login_flow(running, user)
    elapsed = time.perf_counter() - started
    if body["user"]["sub"] != authserver.DEMO_USERS[user]["sub"]:
        raise FlowError(f"logged in as {user} but the API saw {body['user']['sub']}")
    return elapsed


class Recorder:
    """Collects (label, seconds) from wrapped functions, in any thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.records: list = []
        self.labels: list = []      # every wrapped label, so a step never called still shows
        self._undo: list = []

    def wrap(self, owner, name: str, label: str):
        """Replace owner.name with a timed copy, until ``restore``."""
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - started)

        setattr(owner, name, timed)
        self._undo.append((owner, name, original))
        self.labels.append(label)

    def add(self, label: str, seconds: float):
        with self.lock:
            self.records.append((label, seconds))

    def drain(self) -> dict:
        """{label: (count, total seconds)} since the last drain."""
        with self.lock:
            records, self.records = self.records, []
        out: dict = {label: (0, 0.0) for label in self.labels}
        for label, seconds in records:
            count, total = out.get(label, (0, 0.0))
            out[label] = (count + 1, total + seconds)
        return out

    def restore(self):
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()


def percentile(values, pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(seconds: list) -> dict:
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 2),
            "p95_ms": round(percentile(ms, 95), 2), "p99_ms": round(percentile(ms, 99), 2),
            "max_ms": round(max(ms), 2)}


def rss_mb() -> float:
    """This process's resident memory (Linux /proc; 0.0 elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def raw_get(port: int, path: str, timeout: float = RAW_TIMEOUT) -> int | None:
    """Status of GET path on 127.0.0.1:port, or None if nothing answered."""
    request = (f"GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\n"
               "Connection: close\r\n\r\n").encode("ascii")
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
            sock.sendall(request)
            head = sock.recv(64)
    except OSError:
        return None
    try:
        return int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None
