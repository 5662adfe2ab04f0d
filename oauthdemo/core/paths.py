"""Where the demo keeps files, and how it writes secrets (no RFC; XDG Base Directory spec).

The demo stores secrets here: the embedded authorization server's signing key, the CLI's
saved tokens, the mobile backend's SQLite database. Anyone who can read the key can mint
ID tokens the demo will trust, so it is written with mode 0600 inside a 0700 directory,
and a copy that others could have read is refused rather than used. A directory others
can write to (or that someone else owns) is refused too: its owner or writers could swap
our files for theirs, or plant SQLite's -wal/-shm journals before the database exists.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import stat
import sys
from pathlib import Path

APP_NAME = "oauth-pkce-demo"
CACHE_DIR_ENV = "OAUTH_DEMO_CACHE_DIR"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
GROUP_OTHER_BITS = 0o077
WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH
CACHE_DIR_ALTERNATIVE = f"set {CACHE_DIR_ENV} to a private directory of your own"


class UnsafePermissions(OSError):
    """A secret file or its directory would let (or may have let) other users read or
    replace it."""


def user_cache_dir() -> Path:
    """The per-user cache directory for this demo; it is not created here."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override)
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(local) / APP_NAME / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP_NAME
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says a relative value is invalid and must be ignored.
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / APP_NAME


def write_private_file(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``, readable by the owner only (mode 0600).

    Raises UnsafePermissions when the mode cannot be guaranteed: on Windows, POSIX mode
    bits do not control who can read a file, so we refuse instead of pretending.
    """
    if os.name == "nt":
        raise UnsafePermissions(
            f"Refusing to write {path}: owner-only permissions cannot be guaranteed on Windows.")
    path = Path(path)
    make_private_dirs(path.parent)
    check_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    # O_EXCL: never write into a file someone else created (or symlinked) in advance.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            _make_descriptor_private(fh.fileno(), tmp)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # os.replace is atomic: readers see the old file or the new one, never half of one.
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_private_file(path: Path) -> bytes | None:
    """The contents of a secret file, None if it does not exist.

    Raises UnsafePermissions if the file is group/other-accessible or owned by another
    user, or its directory is not private (check_private_dir): such a secret may have
    leaked, or been planted by someone else.
    """
    check_private_dir(Path(path).parent)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as fh:
        # fstat on the open descriptor: the file we check is the file we read (no TOCTOU).
        _refuse_unless_private(os.fstat(fh.fileno()), path)
        return fh.read()


def check_private_dir(directory: Path, *, files=(),
                      alternative: str = CACHE_DIR_ALTERNATIVE) -> None:
    """Refuse ``directory`` if another user owns it or can write to it; then refuse any of
    ``files`` (names inside it) that exist but are not ours with mode 600.

    Whoever can write to the directory can replace our files, or create them before we do
    (SQLite opens an existing -wal or -shm file as part of the database). A directory that
    does not exist yet passes: it will be made 0700. Raises UnsafePermissions with a
    sentence that says how to fix it; ``alternative`` names the setting to change instead.
    """
    if os.name == "nt":   # POSIX modes and uids say nothing about who may write there
        return
    try:
        info = os.stat(directory)
    except FileNotFoundError:
        return
    if info.st_uid != os.getuid():
        raise UnsafePermissions(
            f"{directory} belongs to another user (uid {info.st_uid}), who could replace the "
            f"files the demo trusts there; {alternative}.")
    if info.st_mode & WRITABLE_BY_OTHERS:
        raise UnsafePermissions(
            f"{directory} is writable by other users (mode {stat.S_IMODE(info.st_mode):o}), "
            f"who could replace or plant the files the demo trusts there: run "
            f"`chmod 700 {directory}`, or {alternative}.")
    for name in files:
        _check_existing_file(Path(directory) / name, alternative)


def _check_existing_file(path: Path, alternative: str) -> None:
    try:
        info = os.lstat(path)   # lstat: a planted symlink is refused (mode 777), not followed
    except FileNotFoundError:
        return
    _refuse_unless_private(info, path, f" Delete it if you did not make it (else chmod 600 "
                                       f"it), or {alternative}.")


def _refuse_unless_private(info: os.stat_result, path: Path, fix: str = "") -> None:
    """A secret file must be ours and mode 600: else it may have leaked, or been planted."""
    if info.st_mode & GROUP_OTHER_BITS:
        raise UnsafePermissions(f"{path} has mode {info.st_mode & 0o777:o}; a secret must be "
                                f"600 (owner only).{fix}")
    if info.st_uid != os.getuid():
        raise UnsafePermissions(f"{path} is owned by another user.{fix}")


def make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and any missing parents with mode 0700 (existing ones are kept)."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for new_dir in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process won the race: fine
            new_dir.mkdir(mode=PRIVATE_DIR_MODE)


def _make_descriptor_private(fd: int, shown_path: Path) -> None:
    """Force mode 0600 on an open file and confirm it, before any secret byte is written.

    The confirmation catches filesystems that ignore modes (some network and FAT mounts),
    where the secret would otherwise end up readable by everyone.
    """
    os.fchmod(fd, PRIVATE_FILE_MODE)
    mode = os.fstat(fd).st_mode
    if mode & GROUP_OTHER_BITS:
        raise UnsafePermissions(
            f"Cannot make {shown_path} private: its mode is {mode & 0o777:o} after chmod 600.")
