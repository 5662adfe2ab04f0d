"""Shared test helpers: expensive fixtures are built once per test process."""
from __future__ import annotations

import functools

from oauthdemo.jwtkit import RSAPrivateKey, generate_rsa_key


@functools.lru_cache(maxsize=None)
def shared_rsa_key() -> RSAPrivateKey:
    """One 2048-bit RSA key for every test (pure-Python generation takes about a second)."""
    return generate_rsa_key(2048)
