"""Tests for paths.py: private file writing/reading and the per-user cache directory."""
from __future__ import annotations

import os
import stat
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from oauthdemo.core import paths


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


class TestPrivateFiles(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self._tmp.cleanup)
        self.root = Path(self._tmp.name)

    def test_write_private_file_is_0600_in_new_0700_dirs(self):
        target = self.root / "a" / "b" / "secret.json"
        paths.write_private_file(target, b"secret")
        self.assertEqual(target.read_bytes(), b"secret")
        self.assertEqual(_mode(target), 0o600)
        self.assertEqual(_mode(self.root / "a"), 0o700)
        self.assertEqual(_mode(self.root / "a" / "b"), 0o700)

    def test_write_private_file_is_0600_even_with_permissive_umask(self):
        old = os.umask(0)
        try:
            paths.write_private_file(self.root / "s", b"x")
        finally:
            os.umask(old)
        self.assertEqual(_mode(self.root / "s"), 0o600)

    def test_write_replaces_atomically_and_leaves_no_temp_file(self):
        target = self.root / "secret"
        target.write_bytes(b"old")
        os.chmod(target, 0o644)
        paths.write_private_file(target, b"new")
        self.assertEqual(target.read_bytes(), b"new")
        self.assertEqual(_mode(target), 0o600)
        self.assertEqual(sorted(p.name for p in self.root.iterdir()), ["secret"])

    def test_failed_write_keeps_old_file_and_removes_temp(self):
        target = self.root / "secret"
        target.write_bytes(b"old")
        with mock.patch.object(paths.os, "replace", side_effect=OSError("disk full")):
            with self.assertRaises(OSError):
                paths.write_private_file(target, b"new")
        self.assertEqual(target.read_bytes(), b"old")
        self.assertEqual(sorted(p.name for p in self.root.iterdir()), ["secret"])

    def test_write_refuses_when_mode_cannot_be_confirmed(self):
        target = self.root / "secret"
        fake = os.stat_result((stat.S_IFREG | 0o644,) + (0,) * 9)
        with mock.patch.object(paths.os, "fstat", return_value=fake):
            with self.assertRaises(paths.UnsafePermissions):
                paths.write_private_file(target, b"secret")
        self.assertFalse(target.exists())
        self.assertEqual(list(self.root.iterdir()), [])

    def test_write_refuses_on_windows(self):
        target = self.root / "secret"
        with mock.patch.object(paths.os, "name", "nt"):
            with self.assertRaises(paths.UnsafePermissions):
                paths.write_private_file(target, b"secret")
        self.assertFalse(target.exists())

    def test_unsafe_permissions_is_an_oserror(self):
        self.assertTrue(issubclass(paths.UnsafePermissions, OSError))

    def test_read_private_file_round_trip_and_missing(self):
        target = self.root / "secret"
        paths.write_private_file(target, b"\x00data")
        self.assertEqual(paths.read_private_file(target), b"\x00data")
        self.assertIsNone(paths.read_private_file(self.root / "missing"))

    def test_read_private_file_refuses_0644(self):
        target = self.root / "secret"
        target.write_bytes(b"secret")
        os.chmod(target, 0o644)
        with self.assertRaises(paths.UnsafePermissions):
            paths.read_private_file(target)

    def test_read_private_file_refuses_group_readable(self):
        target = self.root / "secret"
        target.write_bytes(b"secret")
        os.chmod(target, 0o640)
        with self.assertRaises(paths.UnsafePermissions):
            paths.read_private_file(target)


class TestUserCacheDir(unittest.TestCase):
    def _env_without(self, *names):
        patcher = mock.patch.dict(os.environ)
        patcher.start()
        self.addCleanup(patcher.stop)
        for name in names:
            os.environ.pop(name, None)

    def test_env_override_wins(self):
        with mock.patch.dict(os.environ, {"OAUTH_DEMO_CACHE_DIR": "/tmp/demo-cache",
                                          "XDG_CACHE_HOME": "/tmp/xdg"}):
            self.assertEqual(paths.user_cache_dir(), Path("/tmp/demo-cache"))

    def test_xdg_cache_home_on_linux(self):
        self._env_without("OAUTH_DEMO_CACHE_DIR")
        os.environ["XDG_CACHE_HOME"] = "/tmp/xdg"
        with mock.patch.object(paths.sys, "platform", "linux"):
            self.assertEqual(paths.user_cache_dir(), Path("/tmp/xdg/oauth-pkce-demo"))

    def test_relative_xdg_cache_home_is_ignored(self):
        self._env_without("OAUTH_DEMO_CACHE_DIR")
        os.environ.update({"XDG_CACHE_HOME": "relative/cache", "HOME": "/tmp/home"})
        with mock.patch.object(paths.sys, "platform", "linux"):
            self.assertEqual(paths.user_cache_dir(), Path("/tmp/home/.cache/oauth-pkce-demo"))

    def test_default_linux_cache_dir(self):
        self._env_without("OAUTH_DEMO_CACHE_DIR", "XDG_CACHE_HOME")
        os.environ["HOME"] = "/tmp/home"
        with mock.patch.object(paths.sys, "platform", "linux"):
            self.assertEqual(paths.user_cache_dir(), Path("/tmp/home/.cache/oauth-pkce-demo"))

    def test_macos_cache_dir(self):
        self._env_without("OAUTH_DEMO_CACHE_DIR", "XDG_CACHE_HOME")
        os.environ["HOME"] = "/tmp/home"
        with mock.patch.object(paths.sys, "platform", "darwin"):
            self.assertEqual(paths.user_cache_dir(),
                             Path("/tmp/home/Library/Caches/oauth-pkce-demo"))

    def test_windows_cache_dir(self):
        self._env_without("OAUTH_DEMO_CACHE_DIR")
        os.environ["LOCALAPPDATA"] = "/tmp/localappdata"
        with mock.patch.object(paths.sys, "platform", "win32"):
            self.assertEqual(paths.user_cache_dir(),
                             Path("/tmp/localappdata/oauth-pkce-demo/Cache"))

    def test_user_cache_dir_is_not_created(self):
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "not-yet"
            with mock.patch.dict(os.environ, {"OAUTH_DEMO_CACHE_DIR": str(target)}):
                self.assertEqual(paths.user_cache_dir(), target)
            self.assertFalse(target.exists())


if __name__ == "__main__":
    unittest.main()
