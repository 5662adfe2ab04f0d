"""The primitives a login is built from: RS256 signatures (pure Python, CRT), RS256
verifications, and PKCE verifier/challenge pairs. Each is run for a fixed time."""
from __future__ import annotations

import time

import pkce
from oauthdemo.core import jose

MAX_CALLS = 1_000_000      # a bound on each loop besides its time
MESSAGE = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9"


def rate(fn, seconds: float) -> float:
    """Calls per second of ``fn()`` over about ``seconds``."""
    calls, started = 0, time.perf_counter()
    deadline = started + seconds
    while calls < MAX_CALLS and time.perf_counter() < deadline:
        fn()
        calls += 1
    return calls / (time.perf_counter() - started)


def run(key, seconds: float) -> dict:
    signature = jose.rs256_sign(key, MESSAGE)
    public = key.public_key
    return {"key_bits": key.size_bits,
            "rs256_sign_per_s": round(rate(lambda: jose.rs256_sign(key, MESSAGE), seconds)),
            "rs256_verify_per_s": round(rate(lambda: jose.rs256_verify(public, MESSAGE,
                                                                           signature), seconds)),
            "pkce_pairs_per_s": round(rate(pkce.make_pair, seconds))}
