"""Benchmarks of the demo (not tests): run ``python3 bench/run.py``."""
