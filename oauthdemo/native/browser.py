"""Opening the user's browser from a terminal program, which may have none (an SSH session).

Used by the demo at start-up and by the native apps' logins (RFC 8252 §7: the app opens
the system browser; it never shows the login page itself).
"""
from __future__ import annotations

import os
import sys
import threading
import webbrowser


def can_open_browser() -> bool:
    """On Linux only with a display; elsewhere a browser can always be asked for."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def open_in_background(url: str) -> bool:
    """Ask for the browser without waiting for it (it may take seconds, or never return);
    False when there is no browser to ask."""
    if not can_open_browser():
        return False
    threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    return True
