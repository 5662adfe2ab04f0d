"""Cold start: from ``python3 complete_oauth_demo.py`` to the first 200 on the app's ``/``
and on the embedded server's discovery document.

Two cases: the signing key is already cached (every start after the first), and the
first start ever (no key yet: it is generated in the background, and the pages must
not wait for it). The child gets its own cache directory, an empty settings file (so a
developer's .env cannot point it at Auth0) and free loopback ports.
"""
from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from oauthdemo.core import paths
from oauthdemo import settings
from oauthdemo.server.keys import KEY_CACHE_FILENAME

from .harness import ROOT, free_port, raw_get

POLL_INTERVAL = 0.002      # seconds between connection attempts while the child starts
START_DEADLINE = 10        # seconds before a start counts as failed
KEY_DEADLINE = 60          # seconds to wait for a first-ever key (pure-Python RSA generation)
STOP_DEADLINE = 5          # seconds for a clean exit after Ctrl-C
DISCOVERY = "/.well-known/openid-configuration"
JWKS = "/.well-known/jwks.json"


def child_env(cache_dir: Path, pycache: Path) -> dict:
    """The environment minus provider settings; bytecode cached outside the repository.

    A learner's second start reads compiled bytecode (written on the first); this keeps
    that true here even when PYTHONDONTWRITEBYTECODE is set, without writing into the clone.
    """
    env = {k: v for k, v in os.environ.items() if k not in settings.ENV_NAMES}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update({paths.CACHE_DIR_ENV: str(cache_dir), "PYTHONPYCACHEPREFIX": str(pycache),
                "NO_COLOR": "1"})
    return env


def wait_for_200(port: int, path: str, started: float) -> float | None:
    """Seconds from ``started`` until GET path answers 200, polling; None past the deadline."""
    while time.perf_counter() - started < START_DEADLINE:
        if raw_get(port, path) == 200:
            return time.perf_counter() - started
        time.sleep(POLL_INTERVAL)
    return None


def one_start(work: Path, cache_dir: Path, wait_for_key: bool) -> dict:
    app_port, idp_port = free_port(), free_port()
    command = [sys.executable, str(ROOT / "complete_oauth_demo.py"), "--no-browser",
               "--port", str(app_port), "--idp-port", str(idp_port),
               "--env-file", str(work / "empty.env")]
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=work, env=child_env(cache_dir, work / "pycache"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        result = {"app_s": wait_for_200(app_port, "/", started),
                  "discovery_s": wait_for_200(idp_port, DISCOVERY, started)}
        if wait_for_key:   # one request that the server answers once the key exists
            ok = raw_get(idp_port, JWKS, timeout=KEY_DEADLINE) == 200
            result["jwks_s"] = time.perf_counter() - started if ok else None
    finally:
        child.send_signal(signal.SIGINT)
        try:
            _, stderr = child.communicate(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            child.kill()
            _, stderr = child.communicate()
    result["stderr"] = stderr.decode("utf-8", "replace")[-400:]
    return result


def write_cached_key(cache_dir: Path, key) -> None:
    data = json.dumps(key.to_jwk(private=True)).encode("utf-8")
    paths.write_private_file(cache_dir / KEY_CACHE_FILENAME, data)


def ready_ms(result: dict) -> float | None:
    """Both pages answered: the later of the two."""
    if result["app_s"] is None or result["discovery_s"] is None:
        return None
    return max(result["app_s"], result["discovery_s"]) * 1000


def series(results: list) -> dict:
    both = [ready_ms(r) for r in results]
    ok = [v for v in both if v is not None]
    out = {"runs": len(results), "failed": len(results) - len(ok),
           "median_ms": round(statistics.median(ok), 1) if ok else None,
           "min_ms": round(min(ok), 1) if ok else None,
           "max_ms": round(max(ok), 1) if ok else None,
           "each_ms": [None if v is None else round(v, 1) for v in both],
           "app_median_ms": median_ms([r["app_s"] for r in results]),
           "discovery_median_ms": median_ms([r["discovery_s"] for r in results])}
    if "jwks_s" in results[0]:
        out["key_ready_median_ms"] = median_ms([r.get("jwks_s") for r in results])
    failures = [r["stderr"] for r in results if ready_ms(r) is None]
    if failures:
        out["first_failure"] = failures[0]
    return out


def median_ms(seconds: list) -> float | None:
    ok = [s for s in seconds if s is not None]
    return round(statistics.median(ok) * 1000, 1) if ok else None


def baseline_ms(work: Path, code: str, runs: int) -> float:
    """Median wall time of ``python -c code``: how much of a start is not the demo's doing."""
    env = child_env(work / "cached-key", work / "pycache")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def run(key, runs: int, wait_for_key: bool = True) -> dict:
    """``runs`` starts with the key cached and ``runs`` first starts ever (waiting for the
    new key's JWKS unless ``wait_for_key`` is False), and the interpreter's own share."""
    with tempfile.TemporaryDirectory(prefix="oauth-demo-bench-") as tmp:
        work = Path(tmp)
        (work / "empty.env").write_text("", encoding="utf-8")
        cached = work / "cached-key"
        write_cached_key(cached, key)
        one_start(work, cached, wait_for_key=False)   # unmeasured: compiles the bytecode
        with_cache = [one_start(work, cached, wait_for_key=False) for _ in range(runs)]
        first_ever = [one_start(work, work / f"fresh-{i}", wait_for_key=wait_for_key)
                      for i in range(runs)]
        context = {"python_startup_ms": baseline_ms(work, "pass", runs),
                   "import_demo_ms": baseline_ms(work, "import complete_oauth_demo", runs)}
    return {"with_cached_key": series(with_cache), "first_ever": series(first_ever), **context}
