"""Headless Chromium: the DOM and a screenshot of a page, to test and show the HTML report."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .._io import atomic_write_bytes
from ..errors import CausalCamError

CHROMIUM_NAMES: tuple[str, ...] = ("chromium", "chromium-browser", "google-chrome")


_CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable on ``PATH``, or None."""
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def _chromium(args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    executable = find_chromium()
    if executable is None:
        raise CausalCamError(
            "headless Chromium is needed to render the report; install it "
            "(Debian/Ubuntu: apt-get install chromium)"
        )
    with tempfile.TemporaryDirectory(prefix="causalcam-chromium-") as profile:
        command = [executable, *_CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        try:
            return subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=True
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            raise CausalCamError(f"headless Chromium failed on {args[-1]}: {error}") from error


def render_dom(page: str | os.PathLike[str], timeout: float = 120.0) -> str:
    """The DOM of ``page`` after headless Chromium has loaded it (``--dump-dom``)."""
    return _chromium(["--dump-dom", Path(page).resolve().as_uri()], timeout).stdout


def screenshot(
    page: str | os.PathLike[str],
    png: str | os.PathLike[str],
    window: tuple[int, int] = (1280, 2400),
    timeout: float = 120.0,
) -> Path:
    """Render ``page`` in headless Chromium and write a ``window``-sized PNG screenshot."""
    width, height = window
    url = Path(page).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="causalcam-shot-") as folder:
        shot = Path(folder) / "screenshot.png"  # Chromium picks the format by the suffix
        done = _chromium([f"--screenshot={shot}", f"--window-size={width},{height}", url], timeout)
        if not shot.is_file() or shot.stat().st_size == 0:
            raise CausalCamError(f"headless Chromium wrote no screenshot of {page}: {done.stderr}")
        return atomic_write_bytes(png, shot.read_bytes())
