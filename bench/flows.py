"""Whole logins without a browser: one after another (with a breakdown by step), and
many at once on separate cookie jars (with a check that no session shows another's user).

Each login is what a browser does: GET /login, the authorization server's login page,
the one-click login, the consent, the callback (token exchange, ID token check), the
landing page, and the protected API. The breakdown times each of those hops from the
client's side, and inside the callback: the token request, the ID token validation,
every RS256 signature and verification, and any JWKS fetch.
"""
from __future__ import annotations

import threading
import time
import urllib.parse

from oauthdemo.core import jose
from oauthdemo.core.events import StepStarted
from oauthdemo.core.steps import THE_TEN
from oauthdemo.server import authserver
from oauthdemo.client.useragent import ScriptedBrowser

from .harness import USERS, Recorder, login_flow, summary_ms

WARMUP_FLOWS = 5            # the first login also fetches the JWKS; not counted
CONCURRENT_DEADLINE = 300   # seconds for all concurrent logins together
INSIDE = {                  # what the server side spends, timed where it happens
    "RS256 sign": (jose, "rs256_sign"),
    "RS256 verify": (jose, "rs256_verify"),
}


def hop_label(url, data=None, **_ignored) -> str:
    return ("POST " if data is not None else "GET ") + urllib.parse.urlsplit(url).path


class TimedBrowser(ScriptedBrowser):
    """A scripted browser that records how long each request takes, by method and path."""

    def __init__(self, recorder: Recorder):
        super().__init__()
        self.recorder = recorder

    def request(self, url, data=None, headers=None, method=None):
        started = time.perf_counter()
        try:
            return super().request(url, data=data, headers=headers, method=method)
        finally:
            self.recorder.add(hop_label(url, data), time.perf_counter() - started)


class StepClock:
    """An event subscriber (the same spine the console narrator hangs on): when each of the
    ten steps started. It checks every login passes all ten, and times each step from the
    protocol's own events rather than from the outside."""

    def __init__(self, clock=time.perf_counter):
        self.clock = clock
        self.lock = threading.Lock()
        self.marks: list = []            # (step number, time), in the order they happened

    def __call__(self, event):
        if isinstance(event, StepStarted) and 1 <= event.step.number <= len(THE_TEN):
            with self.lock:
                self.marks.append((event.step.number, self.clock()))

    def logins(self) -> list:
        """The marks cut into logins: each one begins at Step 1."""
        with self.lock:
            marks, self.marks = self.marks, []
        logins = []
        for number, at in marks:
            if number == 1 or not logins:
                logins.append([])
            logins[-1].append((number, at))
        return logins


def step_times(logins: list) -> dict:
    """{"Step n": median ms until the next step began}, and how many logins missed a step."""
    spans: dict = {}
    incomplete = 0
    for marks in logins:
        if sorted({n for n, _ in marks}) != list(range(1, len(THE_TEN) + 1)):
            incomplete += 1
        for (number, at), (_, after) in zip(marks, marks[1:]):
            spans.setdefault(number, []).append((after - at) * 1000)
    medians = {f"Step {n}": round(sorted(v)[len(v) // 2], 2) for n, v in sorted(spans.items())}
    return {"median_ms_until_next_step": medians, "logins": len(logins),
            "incomplete_logins": incomplete}


def instrument(running, recorder: Recorder):
    client = running.client
    recorder.wrap(client, "post_token", "  token request (AS signs 2 JWTs)")
    recorder.wrap(client, "validate_id_token", "  ID token validation")
    recorder.wrap(client.jwks, "refresh", "  JWKS fetch")
    for label, (owner, name) in INSIDE.items():
        recorder.wrap(owner, name, "    " + label)


def sequential(running, runs: int) -> dict:
    recorder = Recorder()
    instrument(running, recorder)
    steps = running.app.events.subscribe(StepClock())
    try:
        for i in range(WARMUP_FLOWS):
            login_flow(running, USERS[i % len(USERS)], TimedBrowser(recorder))
        recorder.drain()
        steps.logins()
        times = []
        for i in range(runs):
            started = time.perf_counter()
            login_flow(running, USERS[i % len(USERS)], TimedBrowser(recorder))
            times.append(time.perf_counter() - started)
        spent = recorder.drain()
    finally:
        recorder.restore()
    return {**summary_ms(times), "steps": breakdown(spent, runs, sum(times)),
            "events": step_times(steps.logins())}


def breakdown(spent: dict, runs: int, total: float) -> list:
    """Per step: calls and milliseconds per login, and its share of the whole login."""
    rows = []
    for label, (count, seconds) in spent.items():
        rows.append({"step": label, "calls_per_login": round(count / runs, 2),
                     "ms_per_login": round(seconds * 1000 / runs, 2),
                     "share": round(seconds / total, 3)})
    order = ["GET /login", "GET /authorize", "POST /authorize/login",
             "POST /authorize/consent", "GET /callback", "GET /", "GET /api/protected"]
    rows.sort(key=lambda r: order.index(r["step"]) if r["step"] in order else len(order))
    return rows


def concurrent(running, workers: int, flows_each: int) -> dict:
    """``workers`` threads start together, each running ``flows_each`` logins."""
    barrier = threading.Barrier(workers)
    lock = threading.Lock()
    latencies, errors, crosstalk = [], [], []

    def worker(index: int):
        barrier.wait()
        for k in range(flows_each):
            user = USERS[(index + k) % len(USERS)]
            started = time.perf_counter()
            try:
                seen = login_flow(running, user)["user"]
            except Exception as err:   # counted and reported: a bench must finish
                with lock:
                    errors.append(f"{type(err).__name__}: {err}"[:200])
                continue
            with lock:
                latencies.append(time.perf_counter() - started)
                expected = authserver.DEMO_USERS[user]
                if (seen["sub"], seen["name"]) != (expected["sub"], expected["name"]):
                    crosstalk.append(f"{user} saw {seen}")

    wall = run_threads(worker, workers)
    done = len(latencies)
    return {"workers": workers, "logins": done + len(errors), "errors": len(errors),
            "crosstalk": len(crosstalk), "throughput_per_s": round(done / wall, 1),
            "wall_s": round(wall, 2), **(summary_ms(latencies) if latencies else {}),
            "first_errors": errors[:3], "first_crosstalk": crosstalk[:3]}


def run_threads(target, count: int) -> float:
    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(count)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    deadline = started + CONCURRENT_DEADLINE
    for t in threads:
        t.join(max(0.0, deadline - time.perf_counter()))
    return time.perf_counter() - started
