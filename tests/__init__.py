"""The test package. Discovery (`python3 -m unittest`) calls load_tests below, which runs the
test modules in parallel worker processes (tests/parallel.py); OAUTH_DEMO_TEST_WORKERS=1 runs
them one after another. `python3 -m unittest tests.test_x` and pytest load modules directly."""
from __future__ import annotations

import os


def load_tests(loader, standard_tests, pattern):
    """Discover this package's test modules and hand them to the parallel suite."""
    from tests.parallel import parallel_suite
    from tests.support import shared_rsa_key
    here = os.path.dirname(os.path.abspath(__file__))
    # Discovery from the project root already knows its top level; `-m unittest tests` does not.
    top = None if getattr(loader, "_top_level_dir", None) else os.path.dirname(here)
    discovered = loader.discover(start_dir=here, pattern=pattern or "test*.py", top_level_dir=top)
    # One suite that runs them all; the RSA key is made once, before the workers fork.
    standard_tests.addTest(parallel_suite(discovered, before_fork=shared_rsa_key))
    return standard_tests
