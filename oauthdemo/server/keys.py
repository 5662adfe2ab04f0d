"""The embedded authorization server's signing keys: loaded, generated, rotated, cached.

The key cache is a file of our own (mode 0600 in a 0700 directory): persisting keys is the
server's business, so it lives here and not in the JOSE core, which only signs and verifies.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

from oauthdemo.core import paths
from oauthdemo.core.errors import ConfigError, JoseError
from oauthdemo.core.jose import (RSAPrivateKey, RSAPublicKey, generate_rsa_key, json_bytes,
                                 rsa_private_key_from_jwk)

KEY_CACHE_FILENAME = "signing-key.json"
MAX_PUBLISHED_KEYS = 2           # current key + the previous one, still in JWKS after rotate()


class SigningKeyStore:
    """The authorization server's RS256 keys: loaded or generated in the background.

    The current key signs; after ``rotate()`` the previous one stays published in the JWKS
    so tokens it signed still verify. The newest key is cached (mode 0600) in
    ``cache_dir / "signing-key.json"`` so a restart keeps its kid; a ``key`` passed to the
    constructor is used as it is and not written anywhere.
    """

    def __init__(self, cache_dir: Path | None = None, bits: int = 2048,
                 key: RSAPrivateKey | None = None):
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.bits = bits
        self.warnings: list[str] = []   # why a cached key was ignored or not saved
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._keys: list[RSAPrivateKey] = []  # newest first
        self._thread: threading.Thread | None = None
        self._failure: Exception | None = None
        if self.cache_dir is not None:
            self._check_cache_dir()
        if key is not None:
            self._install(key)

    def _check_cache_dir(self) -> None:
        """Checked now, not in the background thread, so that the person starting the demo
        reads why it will not start: a key in a directory others can write to could be
        swapped for theirs, and we would sign with (and trust) a key they know."""
        try:
            paths.check_private_dir(self.cache_dir)
        except paths.UnsafePermissions as err:
            raise ConfigError(f"The signing key's cache directory is not private: {err}") from err

    def start(self) -> None:
        """Load or generate the key in a daemon thread: the first page never waits for it."""
        with self._lock:
            if self._ready.is_set() or self._thread is not None:
                return
            self._thread = threading.Thread(target=self._load_or_generate,
                                            name="signing-key", daemon=True)
            self._thread.start()

    def current(self, timeout: float | None = None) -> RSAPrivateKey:
        """The signing key, waiting for the background thread if needed."""
        self.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the signing key is not ready yet")
        with self._lock:
            if self._failure is not None:
                raise RuntimeError("generating the signing key failed") from self._failure
            return self._keys[0]

    def public_keys(self) -> list[RSAPublicKey]:
        """The keys to publish in the JWKS: current first, then the previous one."""
        self.current()
        with self._lock:
            return [key.public_key for key in self._keys]

    def rotate(self, new_key: RSAPrivateKey | None = None) -> RSAPrivateKey:
        """Make ``new_key`` (or a fresh one) current; the old key stays published."""
        self.current()  # let the first key settle, or it would land on top of this one
        if new_key is None:
            new_key = generate_rsa_key(self.bits)
        self._save(new_key)
        self._install(new_key)
        return new_key

    @property
    def _cache_file(self) -> Path | None:
        return self.cache_dir / KEY_CACHE_FILENAME if self.cache_dir is not None else None

    def _install(self, key: RSAPrivateKey) -> None:
        with self._lock:
            self._keys = [key] + self._keys[:MAX_PUBLISHED_KEYS - 1]
            self._ready.set()

    def _load_or_generate(self) -> None:
        try:
            key = self._load_cached()
            if key is None:
                key = generate_rsa_key(self.bits)
                self._save(key)
        except Exception as err:  # reported by current(), instead of dying unseen in a thread
            with self._lock:
                self._failure = err
            self._ready.set()
            return
        self._install(key)

    def _load_cached(self) -> RSAPrivateKey | None:
        path = self._cache_file
        if path is None:
            return None
        try:
            data = paths.read_private_file(path)
            return None if data is None else rsa_private_key_from_jwk(json.loads(data))
        except (OSError, ValueError, JoseError) as err:
            # UnsafePermissions is an OSError: a key others could read may be known to
            # them, and whoever knows it can mint tokens we would trust. Start afresh.
            self._warn(f"Ignoring the cached signing key {path} ({err}); generating a new one.")
            return None

    def _save(self, key: RSAPrivateKey) -> None:
        path = self._cache_file
        if path is None:
            return
        try:
            paths.write_private_file(path, json_bytes(key.to_jwk(private=True)))
        except OSError as err:
            self._warn(f"The signing key is kept in memory only; saving {path} failed: {err}")

    def _warn(self, message: str) -> None:
        with self._lock:
            self.warnings.append(message)
