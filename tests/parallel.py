"""Run the test modules in worker processes and replay every outcome into the caller's result.

About half of the suite's wall time is waiting (timeouts under test, subprocess start-ups,
socket round trips), so N workers overlap the waits. A worker is forked after discovery,
takes one module at a time from the parent (the next free worker gets the next module: the
longest known first; modules sharing a fixture go to one worker, in serial order), runs it
with unittest's own TestSuite (class and module fixtures included) and streams each event
back. The parent replays them into the runner's result object, with the worker's own
traceback text, so the summary, -v names, tracebacks and the exit code are what a serial
run prints. A worker that dies, or overruns the per-module deadline, is an error, never a
pass; and every discovered test must be reported by a worker (else it is an error too).

OAUTH_DEMO_TEST_WORKERS=1 runs serially; `python3 -m unittest tests.test_x` and pytest never
come here (only the package's load_tests does).
"""
from __future__ import annotations

import atexit
import contextlib
import inspect
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
import unittest
from collections import deque
from multiprocessing.connection import wait
from pathlib import Path
from unittest.case import _SubTest
from unittest.suite import _ErrorHolder

from oauthdemo.core import paths

WORKERS_ENV = "OAUTH_DEMO_TEST_WORKERS"
MAX_WORKERS = 8             # beyond this, start-ups and the shared CPU win nothing more
DURATIONS_FILE = "test-durations.json"   # last run's seconds per module, for the order
UNKNOWN_SECONDS = 1.0                    # a guess for a module never timed before
DEADLINE_ENV = "OAUTH_DEMO_TEST_MODULE_DEADLINE"
DEADLINE_SECONDS = 300.0    # one module's generous limit: a hung test must not hang the run


class RemoteError(Exception):
    """Stands for an exception raised in a worker; the text is the worker's traceback."""


def worker_count() -> int:
    """N = the CPU count capped at MAX_WORKERS and at least 2; the env variable overrides."""
    raw = os.environ.get(WORKERS_ENV, "").strip()
    if raw.isdigit():
        return max(1, int(raw))
    return max(2, min(os.cpu_count() or 1, MAX_WORKERS))


def module_deadline() -> float:
    """Seconds one module may take in a worker; the env variable overrides (a number > 0)."""
    with contextlib.suppress(ValueError):
        seconds = float(os.environ.get(DEADLINE_ENV, "") or DEADLINE_SECONDS)
        if seconds > 0:
            return seconds
    return DEADLINE_SECONDS


def fork_context():
    """The "fork" context, or None to run serially.

    Workers must be forked: they reuse the parent's discovered tests and its RSA key as they
    are. Where fork is missing (Windows) or unsafe (macOS, whose system frameworks break in a
    forked child, hence Python's spawn default there), spawn would re-import and rediscover
    everything in each worker, so the suite runs serially instead.
    """
    if sys.platform == "darwin" or "fork" not in multiprocessing.get_all_start_methods():
        return None
    return multiprocessing.get_context("fork")


def flatten(suite):
    """Every test case of ``suite``, in run order."""
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from flatten(item)
        else:
            yield item


def module_name(suite) -> str:
    """The module a discovered module suite came from (a failed import names it too).

    Not simply its first test's module: a module that imports a TestCase class from another
    test module runs that class too, and it may sort first. The module is the one that holds
    every class of the suite. Only a name: modules are told apart by their index."""
    tests = list(flatten(suite))
    first = type(tests[0]).__module__
    if first.startswith("unittest"):
        return tests[0]._testMethodName
    classes = {type(test) for test in tests}
    for name in dict.fromkeys(type(test).__module__ for test in tests):
        namespace = vars(sys.modules.get(name, sys))
        if all(namespace.get(cls.__name__) is cls for cls in classes):
            return name
    return first


def split_modules(suite) -> list:
    """The discovered suite holds one suite per module: the unit a worker runs whole."""
    modules = []
    for item in suite:
        if isinstance(item, ParallelSuite):         # load_tests reached twice (-m unittest tests)
            modules.extend(item.modules)
        elif isinstance(item, unittest.TestSuite):
            if item.countTestCases():
                modules.append(item)
        else:
            modules.append(unittest.TestSuite([item]))
    return modules


class _Recorder(unittest.TestResult):
    """A worker's result: it lets TestResult format each outcome, then sends it on."""

    def __init__(self, conn, flat, buffer: bool, tb_locals: bool):
        super().__init__()
        self.buffer, self.tb_locals = buffer, tb_locals
        self._conn, self._flat = conn, flat
        self._index = {id(test): n for n, test in enumerate(flat)}
        self.started: set = set()
        self.failed_modules: set = set()     # whose setUpModule failed: their tests never start

    def _send(self, event: str, test, *args) -> None:
        n = self._index.get(id(test))
        ref = ("test", n) if n is not None else ("holder", str(test))   # setUpClass etc.
        if n is None and str(test).startswith("setUpModule ("):
            self.failed_modules.add(str(test)[len("setUpModule ("):-1])
        self._conn.send((event, ref) + args)

    def startTest(self, test):
        super().startTest(test)
        self.started.add(self._index.get(id(test)))
        self._send("startTest", test)

    def not_started_by_fixture(self) -> list:
        """The tests unittest itself left out, as in a serial run: their setUpClass or
        setUpModule failed (or skipped), which is already reported."""
        return [n for n, test in enumerate(self._flat) if n not in self.started
                and (getattr(type(test), "_classSetupFailed", False)
                     or type(test).__module__ in self.failed_modules)]

    def stopTest(self, test):
        super().stopTest(test)
        self._send("stopTest", test)

    def addSuccess(self, test):
        self._send("addSuccess", test)

    def addError(self, test, err):
        super().addError(test, err)
        self._send("addError", test, self.errors[-1][1])

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._send("addFailure", test, self.failures[-1][1])

    def addSkip(self, test, reason):
        self._send("addSkip", test, str(reason))

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._send("addExpectedFailure", test, self.expectedFailures[-1][1])

    def addUnexpectedSuccess(self, test):
        self._send("addUnexpectedSuccess", test)

    def addSubTest(self, test, subtest, err):
        sub = (str(subtest), subtest.id(), subtest.shortDescription())
        if err is None:
            self._send("addSubTest", test, sub, None, None)
            return
        failed = issubclass(err[0], test.failureException)
        super().addSubTest(test, subtest, err)
        text = (self.failures if failed else self.errors)[-1][1]
        self._send("addSubTest", test, sub, "failure" if failed else "error", text)

    def addDuration(self, test, elapsed):       # Python 3.12+
        self._send("addDuration", test, elapsed)


def _worker_main(conn, modules, cache_dir: str, buffer: bool, tb_locals: bool) -> None:
    """Run the modules the parent sends until it sends None; each ends with "done"."""
    # The parent handles Ctrl-C (it stops the workers). A handler, not SIG_IGN: an ignored
    # signal stays ignored across exec, and the tests send SIGINT to demos they start.
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    os.environ[paths.CACHE_DIR_ENV] = cache_dir          # no two workers share a key cache
    # A forked child leaves with os._exit: run the exit handlers its own tests registered
    # (a shared demo's stop), and none of the parent's, which the parent runs itself.
    atexit._clear()
    try:
        for task in iter(conn.recv, None):
            suite, flat = modules[task]
            recorder = _Recorder(conn, flat, buffer, tb_locals)
            suite.run(recorder)
            conn.send(("done", recorder.not_started_by_fixture()))
    finally:
        atexit._run_exitfuncs()


class _ReplayedSubTest(_SubTest):
    """A worker's subtest as the runner sees one (-v indents subtests): its names and its
    test's exception class; its parameters stay in the worker, already in its name."""

    def __init__(self, test, described: str, test_id: str, short: str | None):
        super().__init__(test, None, {})
        self._described, self._id, self._short = described, test_id, short

    def id(self) -> str:
        return self._id

    def shortDescription(self):
        return self._short

    def __str__(self) -> str:
        return self._described


@contextlib.contextmanager
def _exact_text(result, text: str):
    """Make ``result`` store the worker's traceback text as it is, not reformat a stand-in."""
    result._exc_info_to_string = lambda err, test: text
    try:
        yield
    finally:
        del result._exc_info_to_string


def _stand_in(test, kind: str, text: str):
    """An exc_info for ``result.add*``: its class still tells a failure from an error."""
    failure = getattr(test, "failureException", None) or AssertionError
    exc_type = failure if kind == "failure" else RemoteError
    return (exc_type, exc_type(text), None)


def replay(result, flat, event) -> None:
    """Apply one worker event to the parent's result."""
    name, (kind, ref), *args = event
    test = flat[ref] if kind == "test" else _ErrorHolder(ref)
    if name in ("startTest", "stopTest", "addSuccess", "addUnexpectedSuccess"):
        getattr(result, name)(test)
    elif name in ("addSkip", "addDuration"):
        if hasattr(result, name):
            getattr(result, name)(test, args[0])
    elif name == "addSubTest":
        sub, outcome, text = _ReplayedSubTest(test, *args[0]), args[1], args[2]
        if outcome is None:
            result.addSubTest(test, sub, None)
            return
        with _exact_text(result, text):
            result.addSubTest(test, sub, _stand_in(test, outcome, text))
    else:                                   # addError, addFailure, addExpectedFailure
        outcome = "failure" if name == "addFailure" else "error"
        with _exact_text(result, args[0]):
            getattr(result, name)(test, _stand_in(test, outcome, args[0]))


class _Worker:
    """One worker process, its pipe, the module it runs and the test it is inside."""

    def __init__(self, slot: int, process, conn):
        self.slot, self.process, self.conn = slot, process, conn
        self.task = None
        self.group: list = []       # the rest of its group of modules, run in this order
        self.started = 0.0
        self.open_test = None       # the test the worker is inside, and its events so far
        self.held: list = []


class _Dispatcher:
    """Hands modules to free workers, replays their events, replaces a worker that dies."""

    def __init__(self, modules, context, result, cache_dirs, durations):
        self.modules = [(suite, list(flatten(suite))) for suite in modules]
        self.names = [module_name(suite) for suite in modules]
        self.context, self.result, self.cache_dirs = context, result, cache_dirs
        groups = shared_fixture_groups(self.names)
        self.pending = deque(longest_first(groups, self.names, durations))
        self.workers: dict = {}
        self.timings: dict = {}
        self.deadline = module_deadline()
        # Per module (by index): the tests a worker reported whole, and those unittest
        # itself left out (a failed setUpClass); any other test is an error at the end.
        self.reported = [set() for _ in modules]

    def run(self) -> dict:
        """Run every module; return the seconds each took."""
        try:
            for slot in range(min(len(self.cache_dirs), len(self.pending))):
                self._start(slot)
            while self.workers:
                for conn in wait(list(self.workers), timeout=self._time_left()):
                    self._receive(self.workers[conn])
                self._stop_overdue()
        finally:
            for worker in list(self.workers.values()):
                self._retire(worker, kill=True)
        if not getattr(self.result, "shouldStop", False):
            self._report_unreported()
        return self.timings

    def _time_left(self) -> float:
        """Seconds until the first running module reaches its deadline."""
        ends = [w.started + self.deadline for w in self.workers.values()]
        return max(0.0, min(ends) - time.monotonic()) if ends else 0.0

    def _stop_overdue(self) -> None:
        """A module past its deadline: its worker is killed; an error on its open test."""
        now = time.monotonic()
        for worker in list(self.workers.values()):
            if now - worker.started >= self.deadline:
                self._retire(worker, kill=True)
                self._lost(worker, f"ran past the per-module deadline of {self.deadline:g} s "
                                   f"({DEADLINE_ENV}) and its worker was stopped")

    def _report_unreported(self) -> None:
        """Every discovered test must have been reported: one missing is an error, never a
        silent pass (a module never scheduled, a worker lost mid-module)."""
        for task, (_suite, flat) in enumerate(self.modules):
            for n, test in enumerate(flat):
                if n in self.reported[task]:
                    continue
                text = (f"RemoteError: {test.id()} was discovered but no test worker "
                        "reported it: it did not run.\n")
                self.result.startTest(test)
                with _exact_text(self.result, text):
                    self.result.addError(test, _stand_in(test, "error", text))
                self.result.stopTest(test)

    def _start(self, slot: int) -> None:
        parent_end, child_end = self.context.Pipe()
        process = self.context.Process(
            target=_worker_main, name=f"test-worker-{slot}",
            args=(child_end, self.modules, str(self.cache_dirs[slot]),
                  bool(getattr(self.result, "buffer", False)),
                  bool(getattr(self.result, "tb_locals", False))))
        process.start()
        child_end.close()       # so the parent sees EOF when the worker dies
        worker = _Worker(slot, process, parent_end)
        self.workers[parent_end] = worker
        self._next(worker)

    def _next(self, worker: _Worker) -> None:
        """Give ``worker`` the next module, or let it go if none is left (or the run stops)."""
        if getattr(self.result, "shouldStop", False) or not (worker.group or self.pending):
            self._retire(worker)
            return
        worker.group = worker.group or list(self.pending.popleft())
        worker.task, worker.started = worker.group.pop(0), time.monotonic()
        worker.conn.send(worker.task)

    def _receive(self, worker: _Worker) -> None:
        try:
            event = worker.conn.recv()
        except (EOFError, OSError):
            self._crashed(worker)
            return
        if event[0] == "done":
            name = self.names[worker.task]
            self.timings[name] = self.timings.get(name, 0.0) + time.monotonic() - worker.started
            self.reported[worker.task].update(event[1])
            self._next(worker)
            return
        self._replay_whole_tests(worker, event)

    def _replay_whole_tests(self, worker: _Worker, event) -> None:
        """Hold a test's events until it stops, then replay them together: two workers'
        tests never interleave in the runner's output ("name ... ok" stays one line)."""
        if event[0] == "startTest":
            worker.open_test, worker.held = event[1], []
        if worker.open_test is None:
            replay(self.result, self.modules[worker.task][1], event)
            return
        worker.held.append(event)
        if event[0] == "stopTest":
            for held in worker.held:
                replay(self.result, self.modules[worker.task][1], held)
            worker.open_test, worker.held = None, []
            if event[1][0] == "test":
                self.reported[worker.task].add(event[1][1])

    def _crashed(self, worker: _Worker) -> None:
        """A dead worker is an error on the test it was in (or its module); then replace it."""
        self._retire(worker)
        self._lost(worker, f"died (exit code {worker.process.exitcode})")

    def _lost(self, worker: _Worker, what: str) -> None:
        """The error for a worker gone mid-module; the rest of its group runs in a new one."""
        name = self.names[worker.task]
        text = (f"RemoteError: the test worker running {name} {what}; the rest of {name} "
                "did not run.\n")
        ref = worker.open_test or ("holder", f"{name} (worker lost)")
        self._replay_whole_tests(worker, ("addError", ref, text))
        if worker.open_test:
            self._replay_whole_tests(worker, ("stopTest", ref))
        if worker.group:                # the rest of its group still runs, in order
            self.pending.appendleft(worker.group)
        if self.pending:
            self._start(worker.slot)

    def _retire(self, worker: _Worker, kill: bool = False) -> None:
        self.workers.pop(worker.conn, None)
        with contextlib.suppress(OSError):
            if not kill:
                worker.conn.send(None)
            worker.conn.close()
        if kill and worker.process.is_alive():
            worker.process.terminate()
        worker.process.join(timeout=10)
        if worker.process.is_alive():       # never leave a worker running behind the run
            worker.process.kill()
            worker.process.join()


def shared_fixture_groups(names: list) -> list:
    """Module indexes grouped so that modules sharing a fixture run in one worker, in the
    serial (name) order: a module that imports from another test module (a shared demo,
    say) shares that module's state, as it does in a serial run."""
    indexes: dict = {}                  # keyed by index: two suites may share a name
    for n, name in enumerate(names):
        indexes.setdefault(name, []).append(n)
    group_of = [{n} for n in range(len(names))]
    for n, name in enumerate(names):
        for other in imported_test_modules(name, indexes):
            for m in indexes[other]:
                merged = group_of[n] | group_of[m]
                for member in merged:
                    group_of[member] = merged
    unique = {id(group): sorted(group) for group in group_of}
    return sorted(unique.values())


def imported_test_modules(name: str, known) -> set:
    """The other test modules whose state ``name`` shares: it imported a function of theirs
    that keeps something in a module-level dict, list or set (a demo started once, say)."""
    found = set()
    for value in vars(sys.modules.get(name, sys)).values():
        source = getattr(value, "__module__", "")
        if source in known and source != name and keeps_state(value):
            found.add(source)
    return found


def keeps_state(function) -> bool:
    """Does ``function`` use a global dict, list or set of its module?"""
    if not inspect.isfunction(function):
        return False
    names = function.__code__.co_names
    return any(isinstance(function.__globals__.get(n), (dict, list, set)) for n in names)


def longest_first(groups: list, names: list, durations: dict) -> list:
    """The groups, longest last-known duration first, so no long one starts last."""
    def guess(group):
        return sum(durations.get(names[n], UNKNOWN_SECONDS) for n in group)
    return sorted(groups, key=guess, reverse=True)


@contextlib.contextmanager
def worker_cache_dirs(count: int):
    """A private (0700) cache directory per worker: under the given OAUTH_DEMO_CACHE_DIR, or
    under a new temporary directory that is removed afterwards."""
    given = os.environ.get(paths.CACHE_DIR_ENV)
    base = Path(given) if given else Path(tempfile.mkdtemp(prefix="oauth-demo-tests-"))
    dirs = [base / f"test-worker-{slot}" for slot in range(count)]
    for directory in dirs:
        paths.make_private_dirs(directory)
        paths.check_private_dir(directory)
    try:
        yield dirs
    finally:
        if not given:
            shutil.rmtree(base, ignore_errors=True)


def _durations_path() -> Path:
    return paths.user_cache_dir() / DURATIONS_FILE


def load_durations() -> dict:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(paths.read_private_file(_durations_path()) or b"{}")
        if isinstance(data, dict):
            return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))}
    return {}


def save_durations(timings: dict) -> None:
    with contextlib.suppress(OSError, paths.UnsafePermissions):
        merged = dict(load_durations(), **timings)
        paths.make_private_dirs(_durations_path().parent)
        paths.write_private_file(_durations_path(), json.dumps(merged, indent=0).encode())


class ParallelSuite(unittest.TestSuite):
    """The package's suite: its module suites, run by workers (serially if it must)."""

    def __init__(self, modules, workers: int, before_fork=None):
        super().__init__(modules)
        self.modules, self.workers, self.before_fork = list(modules), workers, before_fork

    def run(self, result, debug=False):
        context = fork_context()
        if debug or context is None or self.workers < 2 or len(self.modules) < 2:
            return super().run(result, debug)
        if self.before_fork is not None:
            self.before_fork()      # e.g. the shared RSA key: built once, inherited by all
        with worker_cache_dirs(min(self.workers, len(self.modules))) as dirs:
            durations = load_durations()
            timings = _Dispatcher(self.modules, context, result, dirs, durations).run()
        save_durations(timings)
        return result


def parallel_suite(discovered, workers: int | None = None,
                   before_fork=None) -> unittest.TestSuite:
    """``discovered`` split by module into a ParallelSuite, unless one worker is asked for.
    ``before_fork`` builds, in the parent, what every worker should inherit."""
    workers = worker_count() if workers is None else workers
    modules = split_modules(discovered)
    if workers < 2:
        return unittest.TestSuite(modules)
    return ParallelSuite(modules, workers, before_fork)
