#!/usr/bin/env python3
"""Benchmarks of the demo (not tests): ``python3 bench/run.py`` prints a table and writes
bench/results.json. Standard library only; loopback addresses only; every loop is
bounded in count and in time. The whole run takes a few minutes on two cores; ``--only
flow,flood`` runs some sections; ``--flood N`` sizes the flood.

``--quick`` is the smoke test CI runs (``.ci/run``): every section, tiny, in seconds
(the slow-client limits shortened to QUICK_LIMITS). The exit status says whether
something went wrong (a failed start or login, cross-talk, a lost login, a table past
its cap), never whether a target was met: timing on a shared machine is not a verdict.

Sections: cold start (a real child process), one login after another (with a breakdown
by step, RSA included), logins at once, a flood of never-finished logins, idle and
slow connections, and the primitives' rates.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))   # run as a script from a fresh clone: no install needed

from bench import coldstart, flows, harness, primitives, stress  # noqa: E402
from oauthdemo.core.jose import generate_rsa_key  # noqa: E402
from oauthdemo.client.pending import PENDING_MAX  # noqa: E402

SECTIONS = ("cold", "flow", "concurrent", "flood", "slowloris", "primitives")
QUICK_LIMITS = (1, 2)      # seconds: connection timeout, request deadline (--quick only)
FULL = {"cold_runs": 10, "key_wait": True, "flow_runs": 200, "workers": 50, "flows_each": 4,
        "flood": 100_000, "slow": 200, "slow_limits": None, "primitive_s": 1.0}
QUICK = {"cold_runs": 1, "key_wait": False, "flow_runs": 5, "workers": 8, "flows_each": 1,
         "flood": min(1000, 2 * PENDING_MAX), "slow": 20, "slow_limits": QUICK_LIMITS,
         "primitive_s": 0.1}
COLD_TARGET_MS = 150
FLOW_TARGET_MS = 40
RSS_TARGET_MB = 30
SLOW_TARGET_MS = 1000
RESULTS = ROOT / "bench" / "results.json"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="the smoke test: every section, tiny, in seconds")
    parser.add_argument("--flood", type=int, default=None,
                        help=f"GET /login requests in the flood (default {FULL['flood']:,})")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help="comma-separated sections: " + ", ".join(SECTIONS))
    parser.add_argument("--out", default=str(RESULTS), help="where to write the JSON results")
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error("unknown section(s): " + ", ".join(sorted(unknown)))
    args.config = dict(QUICK if args.quick else FULL)
    if args.flood is not None:
        args.config["flood"] = max(1, args.flood)
    return args


def machine() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((line.split(":", 1)[1].strip() for line in info
                          if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model or platform.processor(),
            "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg")
            else None,
            "python": platform.python_version(), "implementation": platform.python_implementation(),
            "platform": platform.platform()}


def run_sections(args, key) -> dict:
    cfg, results = args.config, {}
    for name in args.sections:
        started = time.perf_counter()
        print(f"… {name}", file=sys.stderr, flush=True)
        if name == "cold":
            results[name] = coldstart.run(key, cfg["cold_runs"], cfg["key_wait"])
        elif name == "primitives":
            results[name] = primitives.run(key, cfg["primitive_s"])
        else:
            results[name] = in_process(name, cfg, key)
        results[name]["section_s"] = round(time.perf_counter() - started, 1)
    return results


def in_process(name: str, cfg: dict, key) -> dict:
    """A fresh demo for each section, so one section's leftovers cannot skew the next."""
    clock = harness.ShiftedClock()   # the flood moves it on, to let its logins expire
    running = harness.start_demo(key, clock)
    try:
        if name == "flow":
            return flows.sequential(running, cfg["flow_runs"])
        if name == "concurrent":
            return flows.concurrent(running, cfg["workers"], cfg["flows_each"])
        if name == "flood":
            return stress.flood(running, cfg["flood"], clock)
        return stress.slowloris(running, cfg["slow"], cfg["slow_limits"])
    finally:
        running.stop()


# -- verdicts and the table ---------------------------------------------------------------

def at_most(value, limit, unit: str) -> str:
    if value is None:
        return "FAILED (no result)"
    return (f"met, {limit - value:.1f} {unit} to spare" if value <= limit
            else f"MISSED by {value - limit:.1f} {unit}")


def exactly(value, wanted) -> str:
    return "met" if value == wanted else f"MISSED ({value})"


def rows(r: dict) -> list:
    """(section, measure, result, target, verdict) for each figure."""
    makers = {"cold": cold_rows, "flow": flow_rows, "concurrent": concurrent_rows,
              "flood": flood_rows, "slowloris": slowloris_rows, "primitives": primitive_rows}
    return [row for name in SECTIONS if name in r for row in makers[name](r[name])]


def cold_rows(c: dict) -> list:
    out = []
    for case, label in (("with_cached_key", "cached key"), ("first_ever", "first start ever")):
        s = c[case]
        out.append(("cold start", f"{label}: median of {s['runs']} (min–max)",
                    f"{s['median_ms']} ms ({s['min_ms']}–{s['max_ms']})",
                    f"≤ {COLD_TARGET_MS} ms", at_most(s["median_ms"], COLD_TARGET_MS, "ms")))
    key_ready = c["first_ever"].get("key_ready_median_ms")
    return out + [
        ("cold start", "first start: signing key ready (JWKS)",
         "not waited for" if key_ready is None else f"{key_ready} ms", "", ""),
        ("cold start", "of which: python -c pass / import the demo",
         f"{c['python_startup_ms']} / {c['import_demo_ms']} ms", "", "")]


def flow_rows(f: dict) -> list:
    out = [("login flow", f"median / p95 of {f['n']} in sequence",
            f"{f['median_ms']} / {f['p95_ms']} ms", f"median ≤ {FLOW_TARGET_MS} ms",
            at_most(f["median_ms"], FLOW_TARGET_MS, "ms"))]
    for step in f["steps"]:
        out.append(("  per step", step["step"],
                    f"{step['ms_per_login']} ms ×{step['calls_per_login']:g}",
                    f"{step['share']:.0%} of a login", ""))
    ev = f.get("events") or {}
    out.append(("  by events", "logins that passed all ten steps (StepStarted events)",
                f"{ev.get('logins', 0) - ev.get('incomplete_logins', 0)} of {ev.get('logins', 0)}",
                "all", exactly(ev.get("incomplete_logins"), 0)))
    spans = ev.get("median_ms_until_next_step", {})
    if spans:
        out.append(("  by events", "median ms from each step to the next",
                    ", ".join(f"{k.split()[1]}: {v}" for k, v in spans.items()), "", ""))
    return out


def concurrent_rows(c: dict) -> list:
    return [("concurrent", f"{c['logins']} logins by {c['workers']} threads",
             f"{c['throughput_per_s']}/s, p99 {c.get('p99_ms')} ms", "", ""),
            ("concurrent", "errors / cross-talk", f"{c['errors']} / {c['crosstalk']}",
             "0 / 0", exactly((c["errors"], c["crosstalk"]), (0, 0)))]


def slowloris_rows(s: dict) -> list:
    return [("slowloris", f"{s['connections']} idle/slow connections open: slowest login",
             f"{s['login_max_ms']} ms ({s['logins_failed']} failed)",
             f"≤ {SLOW_TARGET_MS} ms", at_most(s["login_max_ms"], SLOW_TARGET_MS, "ms")),
            ("slowloris", "idle connections closed by the server",
             f"{s['idle_closed']} after {s['idle_closed_after_s']} s",
             f"timeout {s['timeout_s']} s", ""),
            ("slowloris", "dripping connections closed by the server",
             f"{s['slow_closed']} after {s['slow_closed_after_s']} s",
             f"deadline {s['deadline_s']} s", "")]


def primitive_rows(p: dict) -> list:
    return [("primitives", f"RS256 sign / verify ({p['key_bits']}-bit), PKCE pairs",
             f"{p['rs256_sign_per_s']} / {p['rs256_verify_per_s']} / "
             f"{p['pkce_pairs_per_s']} per s", "", "")]


def flood_rows(f: dict) -> list:
    at_cap = f["pending_peak"] <= f["pending_cap"] and (
        f["pending_end"] == f["pending_cap"] or f["requests"] < f["pending_cap"])
    during_ok = not f["failures"] and f["logins_during"] + f["logins_during_refused"] > 0
    return [("flood", f"{f['requests']:,} × GET /login, never finished",
             f"{f['rate_per_s']}/s for {f['seconds']} s; {f['statuses']}", "", ""),
            ("flood", "RSS growth (base → peak)",
             f"{f['rss_growth_mb']} MB ({f['rss_base_mb']} → {f['rss_peak_mb']})",
             f"≤ {RSS_TARGET_MB} MB", at_most(f["rss_growth_mb"], RSS_TARGET_MB, "MB")
             if f["rss_base_mb"] else "not measured (needs Linux /proc)"),
            ("flood", "pending logins: peak / end / cap",
             f"{f['pending_peak']} / {f['pending_end']} / {f['pending_cap']}", "at the cap",
             "met" if at_cap else "MISSED"),
            ("flood", "a login begun before the flood, finished after it",
             "completed" if f["inflight_completed"] else "LOST", "completes (never evicted)",
             "met" if f["inflight_completed"] else "MISSED"),
            ("flood", "new logins during: completed / refused (503 + Retry-After)",
             f"{f['logins_during']} / {f['logins_during_refused']}", "no other outcome",
             "met" if during_ok else f"MISSED {f['failures']}"),
            ("flood", "a new login once the flood's logins expire (+10 min)",
             f"{f['login_after_ms']} ms", "completes",
             "met" if f["login_after_ms"] is not None else f"MISSED {f['failures']}")]


# -- errors: what the exit status counts ----------------------------------------------------

def errors(r: dict) -> list:
    """What went wrong, as opposed to what was slow: the exit status counts these alone."""
    found = []
    for case, s in (r.get("cold") or {}).items():
        if isinstance(s, dict) and s.get("failed"):
            found.append(f"cold start ({case}): {s['failed']} of {s['runs']} failed; "
                         f"{s.get('first_failure', '')}")
    ev = (r.get("flow") or {}).get("events")
    if ev and (ev["incomplete_logins"] or not ev["logins"]):
        found.append(f"login flow: {ev['incomplete_logins']} of {ev['logins']} logins did not "
                     "pass all ten steps (by their events)")
    c = r.get("concurrent")
    if c and (c["errors"] or c["crosstalk"]):
        found.append(f"concurrent: {c['errors']} errors, {c['crosstalk']} cross-talk: "
                     f"{c['first_errors'] + c['first_crosstalk']}")
    f = r.get("flood")
    if f and (f["failures"] or not f["inflight_completed"] or f["login_after_ms"] is None
              or f["pending_peak"] > f["pending_cap"]):
        found.append(f"flood: failures {f['failures']}, in-flight login completed: "
                     f"{f['inflight_completed']}, pending peak {f['pending_peak']} "
                     f"(cap {f['pending_cap']})")
    s = r.get("slowloris")
    if s and s["logins_failed"]:
        found.append(f"slowloris: {s['logins_failed']} logins failed: {s['failures']}")
    return found


def print_table(info: dict, table: list):
    print(f"\noauth-pkce-demo benchmarks: {info['cpus']} CPUs ({info['cpu_model']}), "
          f"{info['implementation']} {info['python']}, {info['platform']}; load average "
          f"{info['load_average']} before, {info['load_average_after']} after\n")
    widths = [max(len(str(row[i])) for row in table) for i in range(4)]
    for row in table:
        cells = [str(c).ljust(w) for c, w in zip(row, widths)]
        print("  ".join(cells + [row[4]]).rstrip())


def main(argv=None) -> int:
    args = parse_args(argv)
    print("… generating a 2048-bit RSA key (pure Python)", file=sys.stderr, flush=True)
    key = generate_rsa_key(2048)
    info = machine()
    results = run_sections(args, key)
    info["load_average_after"] = machine()["load_average"]
    table = rows(results)
    print_table(info, table)
    document = {"machine": info, "config": args.config, "quick": args.quick,
                "results": results, "table": [dict(zip(("section", "measure", "result",
                                                        "target", "verdict"), row))
                                              for row in table]}
    Path(args.out).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                              encoding="utf-8")
    print(f"\nwrote {args.out}")
    problems = errors(results)
    for problem in problems:
        print(f"ERROR {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
