"""The parallel runner (tests/parallel.py) reports exactly what a serial run reports.

A tiny made-up test package runs in a subprocess, with `python3 -m unittest -v`, once
serially and twice in two workers (once with a worker that dies mid-test)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import textwrap
import types
import unittest
import unittest.mock
from pathlib import Path

from tests import parallel

ROOT = Path(__file__).resolve().parent.parent

INIT = '''
import os
from tests.parallel import parallel_suite

def load_tests(loader, standard_tests, pattern):
    here = os.path.dirname(__file__)
    found = loader.discover(start_dir=here, pattern=pattern or "test*.py")
    standard_tests.addTest(parallel_suite(found, workers=int(os.environ["FAKE_WORKERS"])))
    return standard_tests
'''

OUTCOMES = '''
import unittest
import unittest.mock

class Outcomes(unittest.TestCase):
    def test_passes(self):
        pass

    def test_fails(self):
        self.assertEqual("worker-side", "MARKER-7f3a")

    def test_errors(self):
        raise KeyError("MARKER-errors")

    def test_skips(self):
        self.skipTest("MARKER tool missing")

    def test_subtests(self):
        for n in range(3):
            with self.subTest(n=n):
                self.assertNotEqual(n, 1, "MARKER-subtest")

    @unittest.expectedFailure
    def test_expected_failure(self):
        self.fail("expected")

    @unittest.expectedFailure
    def test_unexpected_success(self):
        pass

class NeedsTool(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise unittest.SkipTest("MARKER class tool missing")

    def test_never_runs(self):
        pass
'''

CRASHES = '''
import os
import unittest
import unittest.mock

class Crashes(unittest.TestCase):
    def test_a_before(self):
        pass

    def test_b_dies(self):
        if os.environ.get("FAKE_CRASH"):
            os._exit(3)
'''


def make_package(root: Path) -> None:
    package = root / "fakesuite"
    package.mkdir()
    (package / "__init__.py").write_text(INIT)
    (package / "test_outcomes.py").write_text(textwrap.dedent(OUTCOMES))
    (package / "test_crashes.py").write_text(textwrap.dedent(CRASHES))
    (package / "test_broken_import.py").write_text("import no_such_module_MARKER\n")


# Review 2, finding 1: test_a imports test_b's TestCase class, which sorts first in test_a's
# suite; the runner once named test_a's suite "test_b" and never ran test_a's own test.
IMPORTS = {
    "test_a.py": "import unittest\nfrom fakesuite.test_b import AShared\n\n"
                 "class Z(unittest.TestCase):\n"
                 "    def test_own_fails(self):\n        self.fail('MARKER-hidden-module')\n",
    "test_b.py": "import unittest\n\nclass AShared(unittest.TestCase):\n"
                 "    def test_shared_ok(self):\n        pass\n",
    "test_c.py": "import unittest\n\nclass C(unittest.TestCase):\n"
                 "    def test_ok(self):\n        pass\n\n    def test_ok2(self):\n        pass\n",
}

# Review 2, finding 10: a module that hangs is stopped at the per-module deadline.
SLOW = {
    "test_hangs.py": "import time\nimport unittest\n\nclass Hangs(unittest.TestCase):\n"
                     "    def test_a_hangs(self):\n        time.sleep(120)\n\n"
                     "    def test_b_after(self):\n        pass\n",
    "test_quick.py": "import unittest\n\nclass Quick(unittest.TestCase):\n"
                     "    def test_quick(self):\n        pass\n",
}


def make_small_package(root: Path, files: dict) -> Path:
    package = root / "fakesuite"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(INIT)
    for name, text in files.items():
        (package / name).write_text(text)
    return root


def start(root: Path, workers: int, crash: bool = False, **extra_env) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), FAKE_WORKERS=str(workers),
               OAUTH_DEMO_CACHE_DIR=str(root / f"cache-{workers}-{crash}"), **extra_env)
    env.pop("FAKE_CRASH", None)
    if crash:
        env["FAKE_CRASH"] = "1"
    return subprocess.Popen([sys.executable, "-m", "unittest", "-v"], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def blocks(output: str) -> set:
    """The failure/error reports, each whole (their order follows the run order)."""
    body = output.split("\n" + "-" * 70 + "\nRan ")[0]
    return set(body.split("=" * 70 + "\n")[1:])


def verbose_lines(output: str) -> list:
    head = output.split("=" * 70)[0]
    return sorted(line for line in head.splitlines() if " ... " in line)


def summary(output: str) -> tuple:
    ran = re.search(r"^Ran (\d+) tests? in ", output, re.M)
    return ran.group(1) if ran else None, output.rstrip().splitlines()[-1]


class ParallelRunnerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        root = Path(cls.tmp.name)
        make_package(root)
        procs = {name: start(root, workers, crash) for name, workers, crash in
                 (("serial", 1, False), ("parallel", 2, False), ("crash", 2, True))}
        imports = make_small_package(root / "imports", IMPORTS)
        procs["imports-serial"] = start(imports, 1)
        procs["imports-parallel"] = start(imports, 2)
        slow = make_small_package(root / "slow", SLOW)
        procs["slow"] = start(slow, 2, **{parallel.DEADLINE_ENV: "0.5"})
        cls.runs = {}
        for name, proc in procs.items():
            out, _ = proc.communicate(timeout=60)
            cls.runs[name] = (proc.returncode, out)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_failing_test_in_a_worker_fails_the_run_with_its_traceback(self):
        code, out = self.runs["parallel"]
        self.assertEqual(code, 1, out)
        self.assertIn("FAIL: test_fails (fakesuite.test_outcomes.Outcomes", out)
        self.assertIn("Traceback (most recent call last):", out)
        self.assertIn("self.assertEqual(\"worker-side\", \"MARKER-7f3a\")", out)
        self.assertIn("AssertionError: 'worker-side' != 'MARKER-7f3a'", out)
        self.assertIn("KeyError: 'MARKER-errors'", out)

    def test_parallel_run_reports_exactly_what_a_serial_run_reports(self):
        # Skips (with reasons, also setUpClass's), subtests, expected failures, unexpected
        # successes and the failed import: same counts, same -v lines, same tracebacks.
        serial, parallel_out = self.runs["serial"][1], self.runs["parallel"][1]
        self.assertEqual(summary(parallel_out), summary(serial))
        self.assertEqual(summary(serial)[1],
                         "FAILED (failures=2, errors=2, skipped=2, expected failures=1, "
                         "unexpected successes=1)")
        self.assertEqual(verbose_lines(parallel_out), verbose_lines(serial))
        self.assertEqual(blocks(parallel_out), blocks(serial))
        self.assertIn("skipped 'MARKER tool missing'", parallel_out)
        self.assertIn("skipped 'MARKER class tool missing'", parallel_out)
        self.assertIn("(n=1)", parallel_out)
        self.assertIn("no_such_module_MARKER", parallel_out)

    def test_a_worker_that_dies_is_an_error_and_the_other_modules_still_run(self):
        code, out = self.runs["crash"]
        self.assertEqual(code, 1, out)
        self.assertIn("ERROR: test_b_dies (fakesuite.test_crashes.Crashes", out)
        self.assertIn("died (exit code 3)", out)
        self.assertIn("test_a_before (fakesuite.test_crashes.Crashes", out)
        self.assertIn("FAIL: test_fails (fakesuite.test_outcomes.Outcomes", out)
        self.assertEqual(summary(out)[0], summary(self.runs["serial"][1])[0])

    def test_review2_1_a_module_that_imports_a_test_class_still_runs(self):
        serial, parallel_out = self.runs["imports-serial"], self.runs["imports-parallel"]
        self.assertEqual(serial[0], 1, serial[1])
        self.assertEqual(parallel_out[0], 1, parallel_out[1])
        self.assertEqual(summary(parallel_out[1]), summary(serial[1]))
        self.assertEqual(summary(serial[1]), ("5", "FAILED (failures=1)"))
        self.assertIn("MARKER-hidden-module", parallel_out[1])
        self.assertEqual(verbose_lines(parallel_out[1]), verbose_lines(serial[1]))

    def test_review2_10_a_hung_module_is_stopped_at_its_deadline(self):
        code, out = self.runs["slow"]
        self.assertEqual(code, 1, out)
        self.assertIn("ERROR: test_a_hangs (fakesuite.test_hangs.Hangs", out)
        self.assertIn("per-module deadline of 0.5 s", out)
        # The test the worker never reached is an error too, not left out of the count.
        self.assertIn("ERROR: test_b_after (fakesuite.test_hangs.Hangs", out)
        self.assertIn("test_quick (fakesuite.test_quick.Quick", out)
        self.assertEqual(summary(out)[0], "3")


class WorkerSettingsTest(unittest.TestCase):
    def test_review2_1_every_discovered_test_must_be_reported(self):
        # A module a worker never ran (for whatever reason) is an error per test, not a pass.
        suite = unittest.TestSuite([WorkerSettingsTest("test_worker_count_is_capped_at_least_"
                                                       "two_and_one_turns_it_off")])
        dispatcher = parallel._Dispatcher([suite], None, unittest.TestResult(), [], {})
        dispatcher._report_unreported()
        self.assertEqual(dispatcher.result.testsRun, 1)
        self.assertEqual(len(dispatcher.result.errors), 1)
        self.assertIn("no test worker reported it", dispatcher.result.errors[0][1])

    def test_review2_1_suites_with_one_name_are_grouped_by_index(self):
        names = ["fake_same", "fake_same", "fake_other"]
        self.assertEqual(parallel.shared_fixture_groups(names), [[0], [1], [2]])

    def test_modules_sharing_a_fixture_run_in_one_worker_in_serial_order(self):
        # test_mistakes uses test_forensics' shared_demo (a demo kept in a module dict):
        # in a serial run they share it, and what one module left in its console is
        # what the next one sees; so one worker runs them, by name.
        owner, user, alone = (types.ModuleType(f"fake_{n}") for n in ("a", "b", "c"))
        exec("_SHARED = {}\ndef shared_demo():\n    return _SHARED\n", vars(owner))
        owner.shared_demo.__module__ = owner.__name__
        user.shared_demo = owner.shared_demo
        alone.helper = len
        names = [m.__name__ for m in (owner, user, alone)]
        with unittest.mock.patch.dict(sys.modules, {m.__name__: m for m in (owner, user, alone)}):
            self.assertEqual(parallel.shared_fixture_groups(names), [[0, 1], [2]])

    def test_worker_count_is_capped_at_least_two_and_one_turns_it_off(self):
        env = {parallel.WORKERS_ENV: ""}
        with unittest.mock.patch.dict(os.environ, env):
            self.assertGreaterEqual(parallel.worker_count(), 2)
            self.assertLessEqual(parallel.worker_count(), parallel.MAX_WORKERS)
        with unittest.mock.patch.dict(os.environ, {parallel.WORKERS_ENV: "1"}):
            self.assertEqual(parallel.worker_count(), 1)
            suite = parallel.parallel_suite(unittest.TestSuite())
            self.assertNotIsInstance(suite, parallel.ParallelSuite)

    def test_each_worker_gets_its_own_private_cache_dir(self):
        with tempfile.TemporaryDirectory() as given:
            with unittest.mock.patch.dict(os.environ, {"OAUTH_DEMO_CACHE_DIR": given}):
                with parallel.worker_cache_dirs(2) as dirs:
                    self.assertEqual(len(set(dirs)), 2)
                    for directory in dirs:
                        self.assertEqual(directory.parent, Path(given))
                        self.assertEqual(directory.stat().st_mode & 0o777, 0o700)


if __name__ == "__main__":
    unittest.main()
